"""The ``--tracking`` option: which experiment tracker a fit logs to, and its settings.

``--tracking`` takes a tracker the way ``--model`` takes a model: a short name selects the class
and ``--tracking.<option>`` sets its arguments (``--tracking mlflow --tracking.log_model true``).
In a config file::

    tracking: mlflow                 # or
    tracking:
      class_path: mlflow
      init_args: {uri: http://mlflow.internal:5000, experiment: churn}

The classes only hold settings; the loggers that use them live in
:mod:`lightkit.tracking.mlflow_logger` and :mod:`lightkit.tracking.wandb_logger`. This module
imports only the standard library.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["MLflow", "Tracker", "Wandb", "install_name_resolver", "tracker_names"]


class Tracker(ABC):
    """An experiment tracker a fit logs to: select one with ``--tracking mlflow`` or ``--tracking wandb``.

    Args:
        log_model: Upload the best checkpoint (else the last) when the fit ends.
    """

    #: the pip requirement that provides it, for the error when it is missing
    requirement = ""

    @property
    @abstractmethod
    def name(self) -> str:
        """The name users type: ``--tracking NAME`` (a class attribute of each tracker)."""

    def __init__(self, log_model: bool = False) -> None:
        self.log_model = log_model


class MLflow(Tracker):
    """Log to MLflow: one MLflow run per lightkit run, with its metrics, config and versions.

    Args:
        uri: Tracking URI: a server (``http://host:5000``) or a database (``sqlite:///path.db``).
            By default ``MLFLOW_TRACKING_URI``, else a SQLite file in the runs root
            (``--trainer.default_root_dir``): ``sqlite:///runs/mlflow.db``.
        experiment: Name of the MLflow experiment the runs go into.
        log_model: Upload the best checkpoint (else the last) as an artifact when the fit ends.
    """

    name = "mlflow"
    requirement = "lightkit[tracking]"

    def __init__(self, uri: str | None = None, experiment: str = "lightkit", log_model: bool = False) -> None:
        super().__init__(log_model=log_model)
        self.uri = uri
        self.experiment = experiment


class Wandb(Tracker):
    """Log to Weights & Biases; ``WANDB_MODE=offline`` keeps everything on disk, in the run directory.

    Args:
        project: W&B project the runs go into.
        entity: W&B team or user; by default your default entity.
        log_model: Upload the checkpoints as W&B artifacts when the fit ends.
    """

    name = "wandb"
    requirement = "wandb"

    def __init__(self, project: str = "lightkit", entity: str | None = None, log_model: bool = False) -> None:
        super().__init__(log_model=log_model)
        self.project = project
        self.entity = entity


#: short name -> class path
_NAMES: dict[str, str] = {cls.name: f"{__name__}.{cls.__name__}" for cls in (MLflow, Wandb)}


def tracker_names() -> list[str]:
    """The names ``--tracking`` takes."""
    return sorted(_NAMES)


def _is_tracker_type(cls: Any) -> bool:
    classes = cls if isinstance(cls, tuple) else (cls,)
    return any(isinstance(c, type) and issubclass(c, Tracker) for c in classes)


def _installed(function: Any) -> bool:
    while function is not None:
        if getattr(function, "_lightkit_tracking", False):
            return True
        function = getattr(function, "__wrapped__", None)
    return False


def install_name_resolver() -> None:
    """Let jsonargparse take ``mlflow`` / ``wandb`` (any case) for a tracker class; idempotent.

    jsonargparse maps a bare class name to an import path in ``resolve_class_path_by_name``; this
    wraps it for :class:`Tracker` types only, as :func:`lightkit.cli.shortnames.install_resolver`
    does for plugins.
    """
    import jsonargparse._typehints as typehints

    original = typehints.resolve_class_path_by_name
    if _installed(original):
        return

    def resolve_class_path_by_name(cls: Any, name: str) -> str:
        if isinstance(name, str) and "." not in name and _is_tracker_type(cls):
            target = _NAMES.get(name.lower())
            if target is not None:
                return target
            from lightkit.registry import suggest

            close = suggest(name, tracker_names())
            guess = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown tracker {name!r}{guess} Trackers are: {', '.join(tracker_names())}")
        return original(cls, name)

    resolve_class_path_by_name._lightkit_tracking = True  # type: ignore[attr-defined]
    resolve_class_path_by_name._lightkit = getattr(original, "_lightkit", False)  # type: ignore[attr-defined]
    resolve_class_path_by_name.__wrapped__ = original  # type: ignore[attr-defined]
    typehints.resolve_class_path_by_name = resolve_class_path_by_name
