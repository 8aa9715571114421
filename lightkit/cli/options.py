"""Options of the run directory, added to every subcommand as ``--run.*``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunOptions"]


@dataclass
class RunOptions:
    """Where a run writes its files.

    Args:
        name: Name of the run directory, under ``--trainer.default_root_dir``; by default
            ``<model>-<data>-<timestamp>``. With ``--ckpt_path best`` or ``last``, the run to take
            the checkpoint from.
        output: Prediction CSV written by ``predict``; by default ``predictions.csv`` in the run directory.
    """

    name: str | None = None
    output: str | None = None
