"""Experiment tracking: ``lightkit fit --tracking mlflow`` (or ``wandb``) logs the run to a tracker.

What a tracked fit adds to the run directory's own files (``metrics.csv``, ``tensorboard/``):

* one tracker run per lightkit run, named like the run directory; ``fit --ckpt_path last``
  continues the same tracker run (its ids are in the run's ``tracking.json``);
* every metric, at the steps of ``metrics.csv``; the resolved config as the ``config.yaml``
  artifact and as one parameter per dotted key; ``versions.json``; tags for the model, the data
  module, the lightkit version and the git commit; the best checkpoint with ``--tracking.log_model``;
* cross-validation folds and sweep trials as child runs of one parent run (:func:`child_runs`).

MLflow logs to an embedded SQLite store in the runs root (``--trainer.default_root_dir``):
``sqlite:///runs/mlflow.db``, artifacts in ``runs/mlartifacts/``, unless ``--tracking.uri`` or
``MLFLOW_TRACKING_URI`` names another.

The core calls two functions: :func:`add_tracking_arguments` while building the parser and
:func:`tracking_extras` while building the trainer of a fit. This package imports only the
standard library until a tracked fit starts; MLflow and W&B are optional (``lightkit[tracking]``).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Optional

from lightkit.errors import ConfigError, UsageError
from lightkit.tracking.options import MLflow, Tracker, Wandb, install_name_resolver, tracker_names
from lightkit.tracking.parent import ChildRuns, child_runs, current_parent
from lightkit.tracking.record import TRACKING_FILE, read_tracking, shown_uri

__all__ = [
    "TRACKING_FILE",
    "ChildRuns",
    "MLflow",
    "Tracker",
    "Wandb",
    "add_tracking_arguments",
    "child_runs",
    "current_parent",
    "read_tracking",
    "selected_tracker",
    "shown_uri",
    "tracking_extras",
]


def add_tracking_arguments(parser: Any) -> None:
    """Add ``--tracking NAME`` and its ``--tracking.<option>`` flags to a jsonargparse parser."""
    install_name_resolver()
    parser.add_argument(
        "--tracking",
        type=Optional[Tracker],  # noqa: UP045 - jsonargparse reads the annotation
        default=None,
        help="Experiment tracker a fit logs to, besides the run directory: "
        f"{' or '.join(tracker_names())}; its options are --tracking.<option> "
        "(see `--tracking.help mlflow`). Off by default.",
    )


def _get(config: Any, key: str, default: Any = None) -> Any:
    try:
        value = config.get(key, default) if hasattr(config, "get") else getattr(config, key, default)
    except (KeyError, AttributeError):
        return default
    return default if value is None else value


def selected_tracker(config: Any) -> Tracker | None:
    """The tracker a parsed config selects (``tracking``), with its options; ``None`` when off."""
    value = _get(config, "tracking")
    if value is None or value is False:
        return None
    if isinstance(value, Tracker):
        return value
    class_path = _get(value, "class_path")
    if not isinstance(class_path, str):
        raise ConfigError(
            f"tracking: expected a tracker name, got {value!r}",
            f"use --tracking {' or --tracking '.join(tracker_names())}.",
        )
    module, _, name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name, None) if module else None
    if not (isinstance(cls, type) and issubclass(cls, Tracker)):
        raise ConfigError(
            f"tracking: {class_path!r} is not a tracker", f"trackers are: {', '.join(tracker_names())}."
        )
    init_args = _get(value, "init_args", {})
    args = dict(init_args.items()) if hasattr(init_args, "items") else dict(vars(init_args))
    return cls(**args)


def _require(tracker: Tracker, module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"--tracking {tracker.name} needs {module}, which is not installed",
            f"pip install '{tracker.requirement}'",
        ) from None


def tracking_extras(config: Any, run_dir: Path, run_name: str, resuming: bool) -> tuple[list[Any], list[Any]]:
    """The loggers and callbacks that track a fit into ``run_dir``; two empty lists when tracking is off.

    Args:
        config: The parsed ``fit`` config (a jsonargparse Namespace); ``tracking`` is read from it.
        run_dir: The run directory of the fit.
        run_name: The run's name, used for the tracker run.
        resuming: Whether the fit resumes the run in ``run_dir`` (``--ckpt_path``): then the
            tracker run recorded in ``run_dir/tracking.json`` is continued.

    Raises:
        UsageError: The tracker's package is not installed.
        ConfigError: Tracking is asked for with ``--trainer.logger false``.
    """
    tracker = selected_tracker(config)
    if tracker is None:
        return [], []
    if _get(config, "trainer.logger", True) is False:
        raise ConfigError(
            f"--tracking {tracker.name} logs through the trainer's loggers, but --trainer.logger is false",
            f"drop --trainer.logger false, or --tracking {tracker.name}.",
        )
    run_dir = Path(run_dir)
    parent = current_parent()
    if parent is not None:
        parent.bind(run_dir)
    if isinstance(tracker, MLflow):
        _require(tracker, "mlflow")
        from lightkit.tracking.mlflow_logger import mlflow_extras

        store_root = parent.store_root if parent is not None and parent.store_root else run_dir.parent
        uri = tracker.uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        return mlflow_extras(tracker, uri, store_root, run_dir, run_name, resuming, parent)
    if isinstance(tracker, Wandb):
        _require(tracker, "wandb")
        from lightkit.tracking.wandb_logger import wandb_extras

        return wandb_extras(tracker, run_dir, run_name, resuming, parent)
    raise ConfigError(
        f"tracking: no logger for {type(tracker).__name__}", f"trackers are: {', '.join(tracker_names())}."
    )
