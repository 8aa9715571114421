"""Filters for Lightning's advice that does not apply to lightkit runs.

Each filter matches one known message exactly enough that real problems still show.
``LIGHTKIT_SHOW_WARNINGS=1`` turns every filter off.
"""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["NOISY_WARNINGS", "quiet_lightning"]

#: regular expressions of warnings that are advice, not problems, for lightkit runs
NOISY_WARNINGS: tuple[str, ...] = (
    # the fast in-memory path is not a DataLoader; workers would only slow it down
    r".*does not have many workers which may be a bottleneck.*",
    r".*Couldn't infer the batch indices fetched from your dataloader.*",
    # lightkit adds its own ModelCheckpoint to every fit; predict/test need none
    r".*callbacks used to create the checkpoint need to be provided during `Trainer` instantiation.*",
    # small tables have fewer batches than the default logging interval
    r".*The number of training batches \(\d+\) is smaller than the logging interval.*",
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*Experiment logs directory .* exists and is not empty.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    # predicting from a checkpoint of another run directory is what `--ckpt_path` is for
    r".*The dirpath has changed from .* to .*",
    # `--trainer.profiler pytorch` on a short run: Lightning shortens its schedule by itself
    r".*The PyTorch Profiler default schedule will be overridden as there is not enough steps.*",
)


#: substrings of Lightning info lines that are noise: the tuner's temporary checkpoints, ...
NOISY_LOGS: tuple[str, ...] = (
    "/.lr_find_",
    "/.scale_batch_size_",
    # lightkit adds its own model summary (lightkit.training.model_summary)
    "Skipping setting a default `ModelSummary` callback",
)


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not message.startswith("💡 Tip") and not any(s in message for s in NOISY_LOGS)


def quiet_lightning() -> None:
    """Hide the messages in :data:`NOISY_WARNINGS` and Lightning's product tips; idempotent."""
    if os.environ.get("LIGHTKIT_SHOW_WARNINGS", "").lower() in ("1", "true", "yes"):
        return
    for pattern in NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTips) for f in logger.filters):
        logger.addFilter(_DropTips())
