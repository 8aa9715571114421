"""The loggers, checkpoints and callbacks of a run directory, added to a Trainer's configuration.

A lightkit run directory is the trainer's ``log_dir``: ``<trainer.default_root_dir>/<run name>/``.
:func:`fit_setup` adds, for a ``fit``:

* loggers: ``metrics.csv`` (:class:`~lightkit.training.resume.RunCSVLogger`, rewound to the
  checkpoint on resume) and TensorBoard in ``tensorboard/``, *before* any logger the user
  configured (theirs are kept; ``logger: false`` turns them all off);
* checkpoints: ``checkpoints/best.ckpt`` by the model's ``monitor`` and ``checkpoints/last.ckpt``
  at the end of every training epoch, next to any ``ModelCheckpoint`` of the user's;
* exact resume (:class:`~lightkit.training.resume.RngState`), SIGTERM and Ctrl-C handling
  (:class:`~lightkit.training.termination.SaveOnTerminate`), atomic checkpoint files
  (:class:`~lightkit.training.checkpoint_io.AtomicCheckpointIO`).

:func:`progress_callbacks` picks a rich progress bar on a terminal and one plain line per epoch
elsewhere.
"""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import (
    Callback,
    ModelCheckpoint,
    ModelSummary,
    ProgressBar,
)
from lightning.pytorch.loggers import Logger, TensorBoardLogger

from lightkit.runs import CHECKPOINTS_DIR
from lightkit.training.checkpoint_io import AtomicCheckpointIO
from lightkit.training.model_summary import RunModelSummary
from lightkit.training.progress import PlainProgress, RunProgressBar
from lightkit.training.resume import RngState, RunCSVLogger
from lightkit.training.termination import SaveOnTerminate

__all__ = ["BestCheckpoint", "LastCheckpoint", "fit_setup", "progress_callbacks", "run_checkpoints"]


class BestCheckpoint(ModelCheckpoint):
    """``checkpoints/best.ckpt``: the best epoch by the model's monitored metric.

    Its ``state_key`` is its own, so it sits beside a user's ``ModelCheckpoint`` with the same
    settings without a clash of callback states.
    """

    @cached_property
    def state_key(self) -> str:
        """Distinct from any plain ``ModelCheckpoint``'s.

        Computed once: Lightning asks for it on every hook call (it names the profiler's section),
        and ``ModelCheckpoint`` builds it from its settings each time, several times per step.
        """
        return f"lightkit-best{super().state_key}"


class LastCheckpoint(ModelCheckpoint):
    """``checkpoints/last.ckpt``: written at the end of every training epoch, after validation.

    Resuming from it continues at the next epoch. Lightning's ``save_last`` only writes ``last``
    when a monitored checkpoint is written, so ``last`` lagged behind the last epoch; this one
    has no monitor and keeps exactly one file.
    """

    def __init__(self, dirpath: str) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="last",
            monitor=None,
            save_top_k=1,
            save_on_train_epoch_end=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )

    @cached_property
    def state_key(self) -> str:
        """Distinct from any plain ``ModelCheckpoint``'s; computed once, as :class:`BestCheckpoint`'s."""
        return f"lightkit-last{super().state_key}"


def run_checkpoints(run_dir: Path, monitor: str | None, mode: str) -> list[ModelCheckpoint]:
    """``best.ckpt`` (when the model names a metric to monitor) and ``last.ckpt`` in ``run_dir/checkpoints``."""
    folder = str(run_dir / CHECKPOINTS_DIR)
    found: list[ModelCheckpoint] = []
    if monitor:
        found.append(
            BestCheckpoint(
                dirpath=folder,
                filename="best",
                monitor=monitor,
                mode=mode,
                save_top_k=1,
                auto_insert_metric_name=False,
                enable_version_counter=False,
            )
        )
    found.append(LastCheckpoint(folder))
    return found


def _as_list(value: Any) -> list[Any]:
    if value in (None, True):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def fit_setup(
    config: dict[str, Any],
    run_dir: Path,
    model: Any,
    *,
    resume_epoch: int | None = None,
    resume_command: str | None = None,
    extra_loggers: list[Logger] | None = None,
    extra_callbacks: list[Callback] | None = None,
) -> None:
    """Add a run directory's loggers, checkpoints and callbacks to a Trainer's keyword arguments.

    Args:
        config: The Trainer's keyword arguments, changed in place.
        run_dir: The run directory (it becomes the trainer's ``default_root_dir`` and ``log_dir``).
        model: The model; its ``monitor`` and ``monitor_mode`` attributes pick ``best.ckpt``.
        resume_epoch: The epoch of the checkpoint being resumed from: ``metrics.csv`` is rewound
            to it, so that no epoch appears twice.
        resume_command: The command that resumes this run, printed when it is stopped.
        extra_loggers: More loggers (experiment tracking), after lightkit's and the user's.
        extra_callbacks: More callbacks.
    """
    config["default_root_dir"] = str(run_dir)
    if config.get("logger") is not False:
        user = _as_list(config.get("logger"))
        ours: list[Logger] = [
            RunCSVLogger(str(run_dir), name="", version="", rewind_to_epoch=resume_epoch),
            TensorBoardLogger(str(run_dir), name="", version="tensorboard", default_hp_metric=False),
        ]
        config["logger"] = [*ours, *user, *(extra_loggers or [])]
    callbacks: list[Callback] = list(config.get("callbacks") or [])
    last = None
    if config.get("enable_checkpointing") is not False:
        monitor = getattr(model, "monitor", None)
        callbacks += run_checkpoints(run_dir, monitor, getattr(model, "monitor_mode", "min"))
        last = run_dir / CHECKPOINTS_DIR / "last.ckpt"
    callbacks += [RngState(), SaveOnTerminate(last, resume_command), *(extra_callbacks or [])]
    config["callbacks"] = callbacks
    if not config.get("plugins"):
        config["plugins"] = [AtomicCheckpointIO()]


def progress_callbacks(config: dict[str, Any]) -> None:
    """A rich progress bar (no ``v_num``) on a terminal, one line per epoch elsewhere; the model summary."""
    callbacks: list[Callback] = list(config.get("callbacks") or [])
    if config.get("enable_model_summary") is not False and not any(isinstance(c, ModelSummary) for c in callbacks):
        callbacks.append(RunModelSummary())  # FLOPs, no size columns (lightkit.training.model_summary)
        config["callbacks"] = callbacks
    if config.get("enable_progress_bar") is False or any(isinstance(c, ProgressBar) for c in callbacks):
        return
    if sys.stdout.isatty():
        callbacks.append(RunProgressBar())
    else:
        config["enable_progress_bar"] = False
        callbacks.append(PlainProgress())
    config["callbacks"] = callbacks
