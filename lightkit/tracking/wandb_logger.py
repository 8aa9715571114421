"""Weights & Biases for a lightkit run: Lightning's ``WandbLogger``, one W&B run per lightkit run.

``WANDB_MODE=offline`` is honoured by W&B itself: the run is written under ``<run>/wandb/`` and
nothing goes over the network (``wandb sync`` uploads it later). What lightkit adds to Lightning's
logger: the W&B run is named like the run directory and its id is kept in ``tracking.json``, so
``fit --ckpt_path last`` continues it; the resolved config goes into the run's config (flattened,
the trainer's copy of the model's hyperparameters dropped) and ``config.yaml``/``versions.json``
are saved as run files; folds and trials share a W&B group named after their parent (W&B has
groups, not child runs); and the W&B run is finished when the fit ends. ``WandbLogger`` leaves it
open, so the next fold or trial in the same process would otherwise log into the same run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from lightkit.tracking.options import Wandb
from lightkit.tracking.params import flatten_config
from lightkit.tracking.parent import ChildRuns
from lightkit.tracking.record import read_tracking, write_tracking

__all__ = ["RunWandbLogger", "WandbRecorder", "wandb_extras"]


class RunWandbLogger(WandbLogger):
    """``WandbLogger`` for one lightkit run: see the module docstring for what differs.

    Args:
        tracker: The ``--tracking wandb`` options.
        run_dir: The run directory; W&B writes under ``<run_dir>/wandb/``.
        run_name: The lightkit run's name.
        resume_id: The W&B run id to continue.
        group: The W&B group of a fold or trial (its parent's name).
    """

    def __init__(
        self, tracker: Wandb, run_dir: Path, run_name: str, resume_id: str | None, group: str | None
    ) -> None:
        extra: dict[str, Any] = {}
        if group:
            extra["group"] = group
        if tracker.entity:
            extra["entity"] = tracker.entity
        super().__init__(
            name=run_name,
            save_dir=str(run_dir),
            id=resume_id,
            project=tracker.project,
            log_model=tracker.log_model,
            **extra,
        )
        self._run_dir = Path(run_dir)
        self._covered: set[str] = set()
        self._recorded = False

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The W&B run, started on first use (rank zero); its id goes into ``tracking.json``."""
        run = WandbLogger.experiment.fget(self)  # type: ignore[attr-defined]
        if not self._recorded and run is not None:
            self._recorded = True
            offline = os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun")
            url = getattr(run, "url", None)
            write_tracking(
                self._run_dir,
                {
                    "backend": "wandb",
                    "tracking_uri": url if url and not offline else f"offline:{self._run_dir / 'wandb'}",
                    "project": getattr(run, "project", None),
                    "run_id": getattr(run, "id", None),
                    "run_name": getattr(run, "name", None),
                    "group": getattr(run, "group", None),
                },
            )
        return run

    def log_config(self, config: dict[str, Any]) -> None:
        """Put the resolved config, flattened, into the W&B run's config."""
        params = flatten_config(config, value_limit=100_000, key_limit=1000)
        self._covered = {k.rsplit(".", 1)[-1] for k in params if k.startswith(("model.", "data."))}
        self.experiment.config.update(params, allow_val_change=True)

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        """Log hyperparameters the config does not already hold (the trainer passes the model's)."""
        from lightning.fabric.utilities.logger import _convert_params

        values = _convert_params(params) or {}
        extra = {k: v for k, v in values.items() if not str(k).startswith("_") and k not in self._covered}
        if extra:
            self.experiment.config.update(flatten_config(extra, 100_000, 1000), allow_val_change=True)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Upload checkpoints (with ``log_model``) and finish the W&B run."""
        super().finalize(status)
        if self._experiment is not None and hasattr(self._experiment, "finish"):
            self._experiment.finish(exit_code=0 if status in ("success", "finished") else 1)
            self._experiment = None


class WandbRecorder(pl.Callback):
    """Puts the run record into the W&B run when the fit starts: the config, the two files, tags.

    Args:
        logger: The run's :class:`RunWandbLogger`.
        run_dir: The run directory (``config.yaml`` and ``versions.json`` are read from it).
    """

    def __init__(self, logger: RunWandbLogger, run_dir: Path) -> None:
        self.logger = logger
        self.run_dir = Path(run_dir)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log the config, save ``config.yaml`` and ``versions.json``, tag model and data."""
        if not trainer.is_global_zero:
            return
        import json

        import yaml

        run = self.logger.experiment
        config_path, versions_path = self.run_dir / "config.yaml", self.run_dir / "versions.json"
        config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
        self.logger.log_config(config if isinstance(config, dict) else {})
        for path in (config_path, versions_path):
            if path.is_file():
                run.save(str(path), base_path=str(self.run_dir), policy="now")
        try:
            versions = json.loads(versions_path.read_text())
        except (OSError, ValueError):
            versions = {}
        names = [_short(config, "model"), _short(config, "data")]
        run.tags = tuple(dict.fromkeys([*(run.tags or ()), *(n for n in names if n != "-")]))
        run.config.update(
            {"lightkit.version": versions.get("lightkit"), "lightkit.git_commit": versions.get("git_commit")},
            allow_val_change=True,
        )


def _short(config: Any, key: str) -> str:
    value = config.get(key) if isinstance(config, dict) else None
    path = value.get("class_path") if isinstance(value, dict) else value
    return str(path).rsplit(".", 1)[-1] if path else "-"


def wandb_extras(
    tracker: Wandb, run_dir: Path, run_name: str, resuming: bool, parent: ChildRuns | None
) -> tuple[list[Any], list[Any]]:
    """The logger and callback of a fit tracked with W&B (see :func:`lightkit.tracking.tracking_extras`)."""
    record = read_tracking(run_dir) if resuming else {}
    resume_id = record.get("run_id") if record.get("backend") == "wandb" else None
    group = parent.name if parent is not None else None
    logger = RunWandbLogger(tracker, run_dir, run_name, resume_id, group)
    return [logger], [WandbRecorder(logger, run_dir)]
