"""``AtomicCheckpointIO``: checkpoint files are only ever replaced whole."""

from __future__ import annotations

from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lightkit.files import atomic_writer

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves checkpoints atomically: a temporary file in the same directory, fsync, then rename.

    A crash or ``kill -9`` in the middle of a save leaves the previous file intact, never a
    truncated ``last.ckpt``. Loading uses ``weights_only=True`` unless ``LIGHTKIT_UNSAFE_LOAD=1``.
    """

    def __init__(self, preloaded: dict[str, dict[str, Any]] | None = None) -> None:
        """Args:
        preloaded: Checkpoints already read, by path: loading one of them returns that copy
            (once), so a file that lightkit read for its config is not read from disk again.
        """
        super().__init__()
        self._preloaded = dict(preloaded or {})

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Write ``checkpoint`` to ``path`` atomically."""
        fs = get_filesystem(path)
        if fs.protocol not in ("file", ("file", "local")) and "file" not in getattr(fs, "protocol", ()):
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_writer(path) as handle:
            torch.save(checkpoint, handle)
        return None

    def load_checkpoint(self, path: Any, map_location: Any | None = None, weights_only: bool | None = None) -> dict:
        """Load with the weights-only unpickler unless the user opted out."""
        from lightkit.checkpoints import load_checkpoint

        if str(path) in self._preloaded:
            return self._preloaded.pop(str(path))
        return load_checkpoint(path)
