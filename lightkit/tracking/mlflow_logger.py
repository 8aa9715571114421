"""MLflow for a lightkit run: Lightning's ``MLFlowLogger``, with the run created and continued by lightkit.

What lightkit changes in Lightning's logger, and why:

* The store: ``MLFlowLogger`` falls back to ``file:./mlruns``, which MLflow 3.14+ refuses unless
  ``MLFLOW_ALLOW_FILE_STORE=true``, and it reads ``MLFLOW_TRACKING_URI`` when its module is
  imported. lightkit passes the URI explicitly: ``--tracking.uri``, else ``MLFLOW_TRACKING_URI``
  at fit time, else ``sqlite:///<runs root>/mlflow.db``. A SQLite store gets its artifacts beside
  it (``mlartifacts/``): left alone, MLflow would put them in ``./mlruns`` of the working directory.
* The run: created on rank zero at the first use, with the lightkit run name, the parent's id for
  a fold or trial (``mlflow.parentRunId``, which the MLflow UI nests by), and the ids written to
  the run's ``tracking.json``; on resume that run is set ``RUNNING`` again and continued. The
  experiment is created if missing (another worker creating it at the same time is fine).
* Parameters: the resolved config, flattened (:mod:`lightkit.tracking.params`), logged once by
  :class:`MLflowRecorder`. The trainer's own call with the model's hyperparameters would log the
  same values again under short keys (``lr`` beside ``model.init_args.lr``), so keys the config
  covers are dropped from it. MLflow refuses to change a parameter: on resume, a value that
  changed (``trainer.max_epochs``) keeps its first value in MLflow and is named on stderr; the
  new ``config.yaml`` artifact has it.
* The end: ``KILLED`` for Ctrl-C and SIGTERM, ``FAILED`` for errors, ``FINISHED`` otherwise.
  Checkpoints are uploaded only with ``--tracking.log_model``, and only the best (else the last).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from lightkit.errors import ConfigError, LightkitError
from lightkit.tracking.options import MLflow
from lightkit.tracking.params import flatten_config
from lightkit.tracking.parent import ChildRuns
from lightkit.tracking.record import read_tracking, shown_uri, write_tracking

__all__ = ["MLflowRecorder", "RunMLflowLogger", "mlflow_extras", "resolve_store", "start_parent_run"]

#: what MLflow takes per parameter value and key (``mlflow.utils.validation``)
_VALUE_LIMIT, _KEY_LIMIT, _BATCH = 6000, 250, 100


def _quiet_mlflow() -> None:
    """MLflow and alembic announce every new database at INFO; lightkit shows warnings only."""
    if os.environ.get("LIGHTKIT_SHOW_WARNINGS", "").lower() in ("1", "true", "yes"):
        return
    for name in ("mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _note(text: str) -> None:
    print(f"mlflow: {text}", file=sys.stderr)


def resolve_store(uri: str | None, store_root: Path, source: str) -> tuple[str, str | None]:
    """The tracking URI to use and, for a SQLite store, the artifact location beside it.

    Args:
        uri: ``--tracking.uri`` or ``MLFLOW_TRACKING_URI``; ``None`` for the embedded default.
        store_root: Where the default ``mlflow.db`` goes (the runs root).
        source: Where ``uri`` came from, for messages.

    Raises:
        ConfigError: ``uri`` is a file store, which MLflow refuses unless told.
    """
    if uri is None:
        db = (Path(store_root) / "mlflow.db").resolve()
        return f"sqlite:///{db}", (db.parent / "mlartifacts").as_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :]).expanduser().resolve()
        return f"sqlite:///{db}", (db.parent / "mlartifacts").as_uri()
    is_file_store = uri.startswith("file:") or "://" not in uri and not uri.startswith("databricks")
    allowed = os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() in ("1", "true", "yes")
    if is_file_store and not allowed:
        raise ConfigError(
            f"MLflow {uri!r} (from {source}) is a file store, which MLflow 3.14+ refuses",
            "use a database, e.g. sqlite:///runs/mlflow.db, or a server (http://host:5000); "
            "or set MLFLOW_ALLOW_FILE_STORE=true.",
        )
    return uri, None


@contextlib.contextmanager
def _fail_fast(uri: str) -> Iterator[None]:
    """The first request to a server that is down fails in seconds, not after MLflow's minutes of retries.

    MLflow retries a refused connection 7 times with a growing backoff (about 4.5 minutes). Before
    training starts, one retry is enough; later requests keep MLflow's settings (or yours, when
    ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` is set).
    """
    names = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")
    if not uri.startswith(("http://", "https://")) or names[0] in os.environ:
        yield
        return
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({names[0]: "1", names[1]: os.environ.get(names[1], "30")})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _experiment_id(client: Any, name: str, artifact_location: str | None, uri: str) -> str:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:  # created meanwhile by another process
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise ConfigError(
            f"MLflow experiment {name!r} (from --tracking.experiment) is deleted in {shown_uri(uri)}",
            f"restore it (`mlflow experiments restore --experiment-id {experiment.experiment_id}`) "
            "or choose another name with --tracking.experiment.",
        )
    return experiment.experiment_id


def _live_run(client: Any, run_id: str | None) -> Any:
    """The run ``run_id`` if the store still has it (not deleted), else ``None``."""
    if not run_id:
        return None
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    return run if run.info.lifecycle_stage != "deleted" else None


def start_parent_run(client: Any, experiment_id: str, uri: str, parent: ChildRuns) -> str:
    """Continue the parent run recorded in ``parent.record_dir``, else create it; returns its id."""
    assert parent.record_dir is not None
    record = read_tracking(parent.record_dir)
    run = None
    if record.get("backend") == "mlflow" and record.get("tracking_uri") == uri:
        run = _live_run(client, record.get("run_id"))
    if run is not None:
        client.update_run(run.info.run_id, status="RUNNING")
        return run.info.run_id
    tags = {"lightkit.run_dir": str(parent.record_dir.resolve()), **parent.tags}
    run = client.create_run(experiment_id, run_name=parent.name, tags=tags)
    write_tracking(
        parent.record_dir,
        {
            "backend": "mlflow",
            "tracking_uri": uri,
            "experiment_id": experiment_id,
            "run_id": run.info.run_id,
            "run_name": parent.name,
            "parent_run_id": None,
        },
    )
    return run.info.run_id


class RunMLflowLogger(MLFlowLogger):
    """``MLFlowLogger`` for one lightkit run: see the module docstring for what differs.

    Args:
        tracking_uri: The store or server.
        experiment: The MLflow experiment's name.
        run_name: The lightkit run's name.
        run_dir: The run directory; its ``tracking.json`` records the MLflow ids.
        artifact_location: Artifact root of a new experiment (``None``: the server's default).
        resume_run_id: The MLflow run to continue, if it still exists.
        parent: The parent of a fold or trial.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment: str,
        run_name: str,
        run_dir: Path,
        artifact_location: str | None = None,
        resume_run_id: str | None = None,
        parent: ChildRuns | None = None,
    ) -> None:
        super().__init__(
            experiment_name=experiment,
            run_name=run_name,
            tracking_uri=tracking_uri,
            artifact_location=artifact_location,
            log_model=False,
        )
        self._run_dir = Path(run_dir)
        self._resume_run_id = resume_run_id
        self._parent = parent
        self._params: dict[str, str] = {}  # what the MLflow run holds
        self._changed: list[str] = []
        self._covered: set[str] = set()  # short keys the config's params already hold
        self.interrupted = False
        self.resumed = False

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The ``MlflowClient``; the first use creates (or continues) the run, on rank zero only."""
        if not self._initialized:
            self._start()
        return self._mlflow_client

    def _start(self) -> None:
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        _quiet_mlflow()
        client, uri = self._mlflow_client, self._tracking_uri
        if uri.startswith("sqlite:///"):
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            with _fail_fast(uri):
                experiment_id = _experiment_id(client, self._experiment_name, self._artifact_location, uri)
            run = _live_run(client, self._resume_run_id)
            if self._resume_run_id and run is None:
                _note(f"run {self._resume_run_id} is gone from {shown_uri(uri)}; continuing in a new run")
            if run is not None:
                client.update_run(run.info.run_id, status="RUNNING")
                experiment_id = run.info.experiment_id
                self._params = dict(run.data.params)
                self.resumed = True
                parent_id = run.data.tags.get(MLFLOW_PARENT_RUN_ID)
            else:
                parent_id = (
                    self._parent.mlflow_run_id(client, experiment_id, uri)
                    if self._parent is not None
                    else None
                )
                tags = {MLFLOW_PARENT_RUN_ID: parent_id} if parent_id else {}
                run = client.create_run(experiment_id, run_name=self._run_name, tags=resolve_tags(tags))
        except LightkitError:
            raise
        except Exception as err:  # the store or server cannot be used: say which, without a traceback
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise LightkitError(
                f"cannot log to MLflow at {shown_uri(uri)}: {first[:300]}",
                "check --tracking.uri (or MLFLOW_TRACKING_URI) and that the server is up.",
            ) from err
        self._experiment_id, self._run_id = experiment_id, run.info.run_id
        self._initialized = True
        write_tracking(
            self._run_dir,
            {
                "backend": "mlflow",
                "tracking_uri": uri,
                "experiment_id": experiment_id,
                "experiment": self._experiment_name,
                "run_id": self._run_id,
                "run_name": self._run_name,
                "parent_run_id": parent_id,
            },
        )

    # -- parameters --------------------------------------------------------------------------------
    @rank_zero_only
    def log_params(self, params: Mapping[str, str]) -> None:
        """Log ``params`` (already strings) that the run does not hold yet; never change one."""
        from mlflow.entities import Param

        new = {}
        for key, value in params.items():
            held = self._params.get(key)
            if held is None:
                new[key] = value
            elif held != value and key not in self._changed:
                self._changed.append(key)
        items = [Param(k, v) for k, v in new.items()]
        for start in range(0, len(items), _BATCH):
            self.experiment.log_batch(run_id=self.run_id, params=items[start : start + _BATCH])
        self._params.update(new)

    def log_config(self, config: dict[str, Any]) -> list[str]:
        """Log the resolved config as parameters; returns the keys whose value changed on resume."""
        params = flatten_config(config, _VALUE_LIMIT, _KEY_LIMIT)
        self._covered = {k.rsplit(".", 1)[-1] for k in params if k.startswith(("model.", "data."))}
        self.log_params(params)
        return list(self._changed)

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        """Log hyperparameters the config does not already hold (the trainer passes the model's)."""
        from lightning.fabric.utilities.logger import _convert_params

        values = _convert_params(params) or {}
        extra = {k: v for k, v in values.items() if not str(k).startswith("_") and k not in self._covered}
        if extra:
            self.log_params(flatten_config(extra, _VALUE_LIMIT, _KEY_LIMIT))

    # -- the end -----------------------------------------------------------------------------------
    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        """End the MLflow run: ``FINISHED``, ``FAILED``, or ``KILLED`` when interrupted."""
        if not self._initialized:
            return
        if self.interrupted:
            state = "KILLED"
        else:
            state = {"success": "FINISHED", "finished": "FINISHED", "failed": "FAILED"}.get(
                status, "FINISHED"
            )
        self._mlflow_client.set_terminated(self._run_id, state)


class MLflowRecorder(pl.Callback):
    """Logs the run record to MLflow: artifacts, parameters and tags at the start, the model at the end.

    Args:
        logger: The run's :class:`RunMLflowLogger`.
        run_dir: The run directory (``config.yaml`` and ``versions.json`` are read from it).
        log_model: Upload the best checkpoint (else the last) when the fit ends.
    """

    def __init__(self, logger: RunMLflowLogger, run_dir: Path, log_model: bool = False) -> None:
        self.logger = logger
        self.run_dir = Path(run_dir)
        self.log_model = log_model

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log ``config.yaml`` and ``versions.json`` (written at setup), the config as params, and tags."""
        if not trainer.is_global_zero:
            return
        import yaml

        client, run_id = self.logger.experiment, self.logger.run_id
        config_path, versions_path = self.run_dir / "config.yaml", self.run_dir / "versions.json"
        config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
        versions = _read_json(versions_path)
        for path in (config_path, versions_path):
            if path.is_file():
                client.log_artifact(run_id, str(path))
        changed = self.logger.log_config(config if isinstance(config, dict) else {})
        if changed:
            shown = ", ".join(changed[:8]) + (f" (+{len(changed) - 8} more)" if len(changed) > 8 else "")
            _note(
                f"parameters changed on resume keep their first value in MLflow: {shown}; "
                "the config.yaml artifact has the new values"
            )
        from mlflow.entities import RunTag

        tags = {
            "lightkit.model": _short(config, "model"),
            "lightkit.data": _short(config, "data"),
            "lightkit.version": str(versions.get("lightkit") or _lightkit_version()),
            "lightkit.run_dir": str(self.run_dir.resolve()),
        }
        commit = versions.get("git_commit")
        if commit:
            tags["lightkit.git_commit"] = str(commit)
            tags["mlflow.source.git.commit"] = str(commit).removesuffix("+dirty")
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Ctrl-C and SIGTERM end the MLflow run ``KILLED`` instead of ``FAILED``."""
        stopped = isinstance(exception, KeyboardInterrupt) or type(exception).__name__ == "SIGTERMException"
        self.logger.interrupted = stopped

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """With ``log_model``: upload the best checkpoint, else the last, under ``checkpoints/``."""
        if not self.log_model or not trainer.is_global_zero:
            return
        ckpt = trainer.checkpoint_callback
        best = getattr(ckpt, "best_model_path", "") or getattr(ckpt, "last_model_path", "")
        if best and Path(best).is_file():
            self.logger.experiment.log_artifact(self.logger.run_id, best, "checkpoints")


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _short(config: dict[str, Any], key: str) -> str:
    value = config.get(key) if isinstance(config, dict) else None
    path = value.get("class_path") if isinstance(value, dict) else value
    return str(path).rsplit(".", 1)[-1] if path else "-"


def _lightkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lightkit")
    except PackageNotFoundError:
        return "unknown"


def mlflow_extras(
    tracker: MLflow,
    uri: str | None,
    store_root: Path,
    run_dir: Path,
    run_name: str,
    resuming: bool,
    parent: ChildRuns | None,
) -> tuple[list[Any], list[Any]]:
    """The logger and callback of a fit tracked with MLflow (see ``lightkit.tracking.tracking_extras``)."""
    source = "--tracking.uri" if tracker.uri else "MLFLOW_TRACKING_URI"
    tracking_uri, artifact_location = resolve_store(uri, store_root, source)
    resume_id = None
    if resuming:
        record = read_tracking(run_dir)
        if record.get("backend") == "mlflow" and record.get("tracking_uri") == tracking_uri:
            resume_id = record.get("run_id")
        elif record.get("run_id"):
            _note(
                f"this run was tracked in {shown_uri(record.get('tracking_uri'))}; "
                f"it continues in a new run in {shown_uri(tracking_uri)}"
            )
    logger = RunMLflowLogger(
        tracking_uri,
        tracker.experiment,
        run_name,
        run_dir,
        artifact_location=artifact_location,
        resume_run_id=resume_id,
        parent=None if resume_id else parent,
    )
    return [logger], [MLflowRecorder(logger, run_dir, log_model=tracker.log_model)]
