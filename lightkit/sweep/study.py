"""The Optuna study behind a sweep: storage, sampler, pruner, and recovery of interrupted trials.

Storage is a SQLite file in the sweep directory unless ``--storage`` names a database that many
workers share. Trials record the worker that runs them (host and process id). A trial left
RUNNING by a process that no longer exists on this host is marked FAIL and queued again with the
same parameters, so a killed sweep resumes with no trial lost or run twice. Workers on other
machines are covered by Optuna's heartbeat: a RUNNING trial whose worker stopped beating for
``GRACE_PERIOD`` seconds is failed and retried the same way by whichever worker looks next.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from lightkit.errors import ConfigError, UsageError
from lightkit.sweep.space import SweepSpec

__all__ = [
    "DONE_STATES",
    "PRUNERS",
    "SAMPLERS",
    "WORKER_ATTR",
    "count_done",
    "lock_file",
    "open_study",
    "shown_url",
    "recover_stale_trials",
    "storage_url",
    "worker_identity",
]

#: trial states that count toward ``n_trials``
DONE_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
#: user attribute that records which process runs a trial
WORKER_ATTR = "worker"
HEARTBEAT_INTERVAL = 20
GRACE_PERIOD = 90
#: how often a stale trial is queued again before it is left failed
MAX_RETRY = 3

SAMPLERS: dict[str, str] = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "grid": "GridSampler",
    "qmc": "QMCSampler",
    "gp": "GPSampler",
    "cmaes": "CmaEsSampler",
}
PRUNERS: dict[str, str] = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "halving": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
    "threshold": "ThresholdPruner",
    "wilcoxon": "WilcoxonPruner",
    "none": "NopPruner",
}


def shown_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for printing."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: print it as given
        return url


def storage_url(sweep_dir: Path) -> str:
    """The default storage: ``study.db`` in the sweep directory."""
    return f"sqlite:///{(sweep_dir / 'study.db').resolve()}"


def _build(
    kind: str, table: dict[str, str], module: Any, name: str, kwargs: dict[str, Any], where: str
) -> Any:
    cls = getattr(module, table[name])
    params = inspect.signature(cls.__init__).parameters
    unknown = [k for k in kwargs if k not in params or k == "self"]
    if unknown:
        valid = [p for p in params if p not in ("self", "args", "kwargs")]
        raise ConfigError(
            f"{where}: {kind} {name!r} has no option {unknown[0]!r}",
            f"options of optuna.{module.__name__.split('.')[-1]}.{cls.__name__}: {', '.join(valid)}.",
        )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {kind} {name!r}: {err}") from None


class _SweepGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its ``study.stop()``, which works only inside ``Study.optimize``.

    The sweep counts trials itself and never asks for more than the grid holds.
    """

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        """Nothing to do after a trial."""


def make_sampler(spec: SweepSpec, trial_number: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler named in the sweep file; ``grid`` searches every combination of the params.

    With a ``seed`` and a ``trial_number``, the sampler is seeded with ``seed + trial_number``:
    a sweep is reproducible, and neither a resumed sweep nor a second worker repeats the values
    already drawn for earlier trials.
    """
    name, kwargs = spec.sampler
    if trial_number is not None and isinstance(kwargs.get("seed"), int):
        kwargs = {**kwargs, "seed": kwargs["seed"] + trial_number}
    if name == "grid":
        kwargs = {"search_space": {p.name: p.grid() for p in spec.params}, **kwargs}
        module = type("grid", (), {"__name__": "optuna.samplers", "GridSampler": _SweepGridSampler})
        return _build("sampler", SAMPLERS, module, name, kwargs, spec.source)
    return _build("sampler", SAMPLERS, optuna.samplers, name, kwargs, spec.source)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The pruner named in the sweep file (``median`` by default, ``none`` for no pruning)."""
    name, kwargs = spec.pruner
    return _build("pruner", PRUNERS, optuna.pruners, name, kwargs, spec.source)


def grid_size(spec: SweepSpec) -> int | None:
    """Number of combinations for the grid sampler, or ``None`` for other samplers."""
    if spec.sampler[0] != "grid":
        return None
    size = 1
    for param in spec.params:
        size *= len(param.grid())
    return size


def lock_file(url: str, sweep_dir: Path) -> Path:
    """The file whose lock local workers share: next to a SQLite database, else in the sweep directory."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        database = Path(url[len("sqlite:///") :].split("?", 1)[0])
        return database.with_name(database.name + ".lock")
    return sweep_dir / ".ask.lock"


def _storage(url: str, lock: Path | None = None) -> RDBStorage:
    """The RDB storage at ``url``, opened under the sweep directory's lock.

    Two workers creating the same SQLite schema at once collide; other databases get retries.
    """
    attempts = 3
    for attempt in range(attempts):
        with ask_lock(lock) if lock is not None else contextlib.nullcontext():
            try:
                return _open_storage(url)
            except UsageError:
                if attempt == attempts - 1:
                    raise
        time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def _open_storage(url: str) -> RDBStorage:
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # several local workers take turns writing the file; wait instead of failing
        engine_kwargs["connect_args"] = {"timeout": 120}
    else:
        engine_kwargs["pool_pre_ping"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=GRACE_PERIOD,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
            )
        except ImportError as err:
            raise UsageError(
                f"storage {shown_url(url)!r} needs a database driver that is missing ({err.name or err})",
                "PostgreSQL: pip install psycopg2-binary; MySQL: pip install pymysql (and use mysql+pymysql://).",
            ) from None
        except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many kinds; all mean "cannot open"
            raise UsageError(
                f"cannot open the study storage {shown_url(url)!r}: {str(err).splitlines()[0]}",
                "check the URL (sqlite:///path.db, postgresql://user:pass@host/db, mysql+pymysql://...) "
                "and that the database server is reachable.",
            ) from None


def open_study(
    spec: SweepSpec, url: str, study_name: str | None, create: bool = True, lock: Path | None = None
) -> optuna.Study:
    """Load the study ``study_name`` from ``url``, creating it when ``create`` is set.

    Without ``create``, a ``study_name`` of ``None`` means the storage's only study.

    ``lock`` is the :func:`lock_file` that local workers share.

    Raises:
        UsageError: The storage cannot be opened, the study does not exist (``create=False``),
            or it exists with another direction or metric.
    """
    storage = _storage(url, lock)
    sampler = make_sampler(spec)
    pruner = make_pruner(spec)
    if not create:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        if study_name is None and len(names) == 1:
            study_name = names[0]
        if study_name not in names:
            raise UsageError(
                f"no study {study_name!r} in {shown_url(url)}"
                if study_name
                else f"{shown_url(url)} holds {len(names)} studies",
                f"studies there: {', '.join(names) or 'none'}; pick one with --study_name.",
            )
        return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction=spec.direction,
        load_if_exists=True,
    )
    stored = study.user_attrs.get("metric")
    if stored is None:
        study.set_user_attr("metric", spec.metric)
        study.set_user_attr("value", spec.value)
    elif stored != spec.metric or study.direction.name.lower() != spec.direction:
        raise UsageError(
            f"study {study_name!r} in {shown_url(url)} optimises {stored} ({study.direction.name.lower()}), "
            f"but {spec.source} says {spec.metric} ({spec.direction})",
            "use another study (--study_name or --dir), or set metric and direction back.",
        )
    return study


def worker_identity() -> dict[str, Any]:
    """This process as a trial records it: host name and process id."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale_here(trial: FrozenTrial, busy: set[int]) -> bool:
    worker = trial.user_attrs.get(WORKER_ATTR)
    if not isinstance(worker, dict) or worker.get("host") != socket.gethostname():
        return False
    pid = worker.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return trial.number not in busy
    return not _process_exists(pid)


def recover_stale_trials(study: optuna.Study, busy: set[int] = frozenset()) -> list[tuple[int, int | None]]:
    """Fail the trials left RUNNING by dead processes and queue each again with its parameters.

    Looks at trials run on this host (by process id) and lets Optuna's heartbeat handle the
    others. ``busy`` holds the numbers of trials this process is running right now.

    Returns:
        ``(failed trial number, number of the queued retry or None)`` for each recovered trial.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))}
        optuna.storages.fail_stale_trials(study)
        recovered: list[tuple[int, int | None]] = []
        storage = study._storage
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not _is_stale_here(trial, set(busy)):
                continue
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # another worker was faster
                storage.set_trial_user_attr(trial._trial_id, "error", "interrupted: its process is gone")
                if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                    retry(study, storage.get_trial(trial._trial_id))
                    recovered.append((trial.number, None))
        waiting = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
            if t.number not in before
        ]
        by_origin = {t.system_attrs.get("retry_history", [None])[-1]: t.number for t in waiting}
        return [(number, by_origin.get(number)) for number, _ in recovered]


def count_done(study: optuna.Study) -> tuple[int, int]:
    """``(finished + pruned, running)`` trials of the study."""
    trials = study.get_trials(deepcopy=False, states=(*DONE_STATES, TrialState.RUNNING))
    done = sum(t.state in DONE_STATES for t in trials)
    return done, len(trials) - done


@contextlib.contextmanager
def ask_lock(path: Path) -> Iterator[None]:
    """Hold a file lock while a worker counts trials and creates the next one.

    ``path`` is the :func:`lock_file`. Workers on one machine then never start more trials than
    ``n_trials`` between them. (Workers on other machines share only the database: they may
    overshoot by one trial each when they start at the same instant.)
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; rely on the count alone
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
