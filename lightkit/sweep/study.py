"""The Optuna study behind a sweep: sampler, pruner, and recovery of trials whose worker died.

A trial is created by :func:`next_trial` under the storage's lock (see
:mod:`lightkit.sweep.storage`), so workers never start more than ``n_trials`` between them. It
records its worker (host, process id, PID namespace) and beats a heartbeat while it runs. A
RUNNING trial is recovered (marked FAIL, with the reason in its ``error`` attribute, and queued
again with the same values, at most ``MAX_RETRY`` times) by whichever worker looks next when:

* its worker ran on this host, in this PID namespace, and that process is gone (``kill -9``, a
  crash): found at once;
* its last heartbeat is older than the grace period (a worker on another machine that died or
  lost the network);
* it never beat and is older than the grace period (its worker died between creating the trial
  and its first beat).

Trial numbers come from the storage (unique in the study), and a trial's run directory is named
after its number, so a retried trial gets a new number and a new directory.
"""

from __future__ import annotations

import inspect
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from lightkit.errors import ConfigError, UsageError
from lightkit.runs.record import pid_alive
from lightkit.sweep.space import SweepSpec
from lightkit.sweep.storage import Store

__all__ = [
    "DONE_STATES",
    "MAX_RETRY",
    "PRUNERS",
    "SAMPLERS",
    "WORKER_ATTR",
    "Recovered",
    "count_done",
    "grid_size",
    "make_pruner",
    "make_sampler",
    "open_study",
    "queue_retry",
    "recover_stale_trials",
    "storage_url",
    "worker_identity",
]

#: trial states that count toward ``n_trials``
DONE_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
#: user attribute that records which process runs a trial
WORKER_ATTR = "worker"
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


def open_study(spec: SweepSpec, store: Store, study_name: str | None, create: bool = True) -> optuna.Study:
    """Load the study ``study_name`` from ``store``, creating it when ``create`` is set.

    Without ``create``, a ``study_name`` of ``None`` means the storage's only study.

    Raises:
        UsageError: The study does not exist (``create=False``), or it exists with another
            direction or metric.
    """
    storage, where = store.storage, store.shown
    sampler = make_sampler(spec)
    pruner = make_pruner(spec)
    if not create:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        if study_name is None and len(names) == 1:
            study_name = names[0]
        if study_name not in names:
            raise UsageError(
                f"no study {study_name!r} in {where}"
                if study_name
                else f"{where} holds {len(names)} studies",
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
            f"study {study_name!r} in {where} optimises {stored} ({study.direction.name.lower()}), "
            f"but {spec.source} says {spec.metric} ({spec.direction})",
            "use another study (--study_name or --dir), or set metric and direction back.",
        )
    return study


def _pid_namespace() -> int | None:
    """The inode of this process's PID namespace (Linux): processes of other containers differ."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def worker_identity() -> dict[str, Any]:
    """This process as a trial records it: host name, process id and PID namespace."""
    identity: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    namespace = _pid_namespace()
    if namespace is not None:
        identity["pidns"] = namespace
    return identity


def _gone_here(trial: FrozenTrial, busy: set[int]) -> str | None:
    """Why the trial's worker is known to be dead, when it ran in this host's PID namespace."""
    worker = trial.user_attrs.get(WORKER_ATTR)
    if not isinstance(worker, dict) or worker.get("host") != socket.gethostname():
        return None
    if "pidns" in worker and worker["pidns"] != _pid_namespace():
        return None  # another container on this host: its process ids are not ours to check
    pid = worker.get("pid")
    if not isinstance(pid, int):
        return None
    gone = f"process {pid} on {worker['host']} is gone"
    if pid == os.getpid():
        return gone if trial.number not in busy else None
    return None if pid_alive(pid) else gone


def queue_retry(study: optuna.Study, trial: FrozenTrial) -> int | None:
    """Queue a failed trial again with the same values; returns the new trial's number.

    What Optuna's ``RetryHeartbeatStaleTrialCallback`` does (the same ``failed_trial`` and
    ``retry_history`` system attributes, at most ``MAX_RETRY`` times), without copying the user
    attributes: the retry gets its own worker, run directory and config, and no error.
    Also usable as a storage's ``heartbeat_stale_trial_callback``.
    """
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRY:
        return None
    system_attrs = {
        "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
        "retry_history": history,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                system_attrs=system_attrs,
            )
        )
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return next((t.number for t in reversed(waiting) if t.system_attrs.get("retry_history") == history), None)


@dataclass
class Recovered:
    """A trial failed because its worker died, and its retry.

    Attributes:
        number: The failed trial's number.
        reason: Why its worker counts as dead.
        retry: Number of the queued retry, or ``None`` when it was retried ``MAX_RETRY`` times already.
    """

    number: int
    reason: str
    retry: int | None


def recover_stale_trials(
    study: optuna.Study, grace: int, busy: set[int] = frozenset(), unclaimed: dict[int, float] | None = None
) -> list[Recovered]:
    """Fail the trials whose worker died and queue each again with its values.

    Args:
        study: The study.
        grace: Seconds without a heartbeat after which a trial of another host counts as dead.
        busy: Numbers of the trials this process is running.
        unclaimed: Trial id -> ``time.monotonic()`` when this process first saw it RUNNING with no
            worker recorded; kept by the caller between calls.

    Returns:
        The recovered trials.
    """
    import time

    storage = study._storage
    stale_ids: set[int] = set()
    if isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage):
        stale_ids = set(storage._get_stale_trial_ids(study._study_id))
    now = time.monotonic()
    recovered: list[Recovered] = []
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if unclaimed is not None:
        for trial_id in set(unclaimed) - {t._trial_id for t in running}:
            del unclaimed[trial_id]
    for trial in running:
        reason = _gone_here(trial, set(busy))
        if reason is None and trial._trial_id in stale_ids and trial.number not in busy:
            reason = f"no heartbeat for {grace} s"
        if reason is None and WORKER_ATTR not in trial.user_attrs and unclaimed is not None:
            first = unclaimed.setdefault(trial._trial_id, now)
            if now - first > grace:
                reason = f"no worker claimed it in {grace} s"
        if reason is None:
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "error", f"interrupted: {reason}")
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker was faster
            continue
        retry = queue_retry(study, storage.get_trial(trial._trial_id))
        recovered.append(Recovered(trial.number, reason, retry))
    return recovered


def count_done(study: optuna.Study) -> tuple[int, int]:
    """``(finished + pruned, running)`` trials of the study."""
    trials = study.get_trials(deepcopy=False, states=(*DONE_STATES, TrialState.RUNNING))
    done = sum(t.state in DONE_STATES for t in trials)
    return done, len(trials) - done
