"""The sweep worker: takes trials from the study until it holds ``n_trials`` finished or pruned ones.

Every trial is ``lightkit fit`` run in this process with the base config, the sampled values as
flags and ``--trainer.default_root_dir <sweep dir>/runs --run.name trial-NNNN``. Many workers can
run this loop on one study at the same time: each counts the study's trials and creates the next
one under the storage's lock, so together they start exactly ``n_trials``. A worker with nothing
left to start waits for the trials other workers are running, so that one whose worker dies is
failed and run again here, rather than leaving the study short.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from lightkit.errors import ConfigError
from lightkit.sweep.space import SweepSpec, trial_flags
from lightkit.sweep.storage import Store
from lightkit.sweep.study import (
    WORKER_ATTR,
    count_done,
    grid_size,
    make_sampler,
    queue_retry,
    recover_stale_trials,
    worker_identity,
)

__all__ = ["SweepRun", "run_trials", "short_names"]


@dataclass
class SweepRun:
    """What one ``lightkit sweep`` invocation works on.

    Args:
        spec: The parsed sweep file.
        study: The Optuna study.
        sweep_dir: The sweep directory; trials' run directories go in ``runs/`` under it.
        base_args: ``lightkit fit`` arguments shared by every trial (``--config`` files, flags).
        n_trials: Finished plus pruned trials to reach.
        store: The storage the study lives in, with its lock and heartbeat settings.
    """

    spec: SweepSpec
    study: optuna.Study
    sweep_dir: Path
    base_args: list[str]
    n_trials: int
    store: Store
    out: Any = field(default_factory=lambda: sys.stdout)
    #: trial id -> when this worker first saw it RUNNING with no worker recorded
    unclaimed: dict[int, float] = field(default_factory=dict)

    def say(self, text: str) -> None:
        """Print one progress line."""
        print(text, file=self.out, flush=True)


def short_names(names: list[str]) -> dict[str, str]:
    """The last part of each dotted key, or the whole key where two would look alike."""
    last = {n: n.rsplit(".", 1)[-1] for n in names}
    counts: dict[str, int] = {}
    for short in last.values():
        counts[short] = counts.get(short, 0) + 1
    return {n: (s if counts[s] == 1 else n) for n, s in last.items()}


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@contextlib.contextmanager
def _heartbeat(run: SweepRun, trial_id: int) -> Iterator[None]:
    """Record a heartbeat for the trial every heartbeat interval while it runs."""
    storage = run.study._storage
    interval = run.store.heartbeat.interval
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):  # a missed beat only brings the grace period closer
                storage.record_heartbeat(trial_id)

    thread = threading.Thread(target=beat, name=f"lightkit-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


#: set by the SIGTERM handler: the KeyboardInterrupt it raises can surface as another error (one
#: raised inside torch.save comes out as a RuntimeError), and the trial still counts as interrupted
_TERMINATED = threading.Event()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so ``kill`` ends the current trial cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _TERMINATED.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say_recovered(run: SweepRun) -> None:
    """Fail and queue again the trials whose worker died (call it under the study's lock)."""
    for found in recover_stale_trials(run.study, run.store.heartbeat.grace, unclaimed=run.unclaimed):
        again = f", queued again as trial {found.retry}" if found.retry is not None else ""
        run.say(f"trial {found.number} was left running: {found.reason}; marked failed{again}")


def _next_trial(run: SweepRun) -> optuna.Trial | None:
    """Create the next trial, or ``None`` when the study has (or is running) enough trials.

    Recovering dead workers' trials, counting and creating happen under the storage's lock, so
    workers together never start more than ``n_trials``. The new trial beats once and records its
    worker before the lock is released.
    """
    with run.store.lock(run.study.study_name):
        _say_recovered(run)
        done, running = count_done(run.study)
        if done + running >= run.n_trials:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "heartbeat is supposed to be used with optimize"
            trial = run.study.ask()
        run.study._storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr(WORKER_ATTR, worker_identity())
        if "seed" in run.spec.sampler[1]:
            run.study.sampler = make_sampler(run.spec, trial.number)
        return trial


def _wait_for_others(run: SweepRun) -> bool:
    """Wait while other workers run the study's last trials; ``False`` once the study is complete.

    Returns ``True`` as soon as there is a trial to start here (one that died was queued again).
    """
    poll = min(5.0, float(run.store.heartbeat.interval))
    said = False
    while True:
        with run.store.lock(run.study.study_name):
            _say_recovered(run)
            done, running = count_done(run.study)
        if done + running < run.n_trials:
            return True
        if running == 0:
            return False
        if not said:
            numbers = [t.number for t in run.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
            shown = ", ".join(str(n) for n in numbers)
            run.say(
                f"waiting for {running} trial{'s' if running > 1 else ''} running in other workers "
                f"({shown}); a trial whose worker dies is run again here"
            )
            said = True
        time.sleep(poll)


def _tell(run: SweepRun, trial: optuna.Trial, state: TrialState, value: float | None = None) -> bool:
    """Tell the study how the trial ended; ``False`` if another worker failed it meanwhile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run.study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    except UpdateFinishedTrialError:
        return False
    return True


def _retry(run: SweepRun, trial: optuna.Trial) -> None:
    """Queue the (failed) trial again with the same values."""
    queue_retry(run.study, run.study._storage.get_trial(trial._trial_id))


def _taken_over(run: SweepRun, trial: optuna.Trial) -> str:
    frozen = run.study._storage.get_trial(trial._trial_id)
    reason = str(frozen.user_attrs.get("error", "")).removeprefix("interrupted: ") or "no heartbeat"
    return (
        f"trial {trial.number:>3}  was failed by another worker while it ran ({reason}); "
        "its result is dropped and the retry runs in that worker"
    )


def run_one(run: SweepRun, trial: optuna.Trial) -> str:
    """Run ``trial`` and tell the study how it ended; returns the outcome's state.

    Raises:
        ConfigError: The trial's config is wrong (the metric is never logged, a key is unknown):
            every trial would fail the same way, so the sweep stops.
        KeyboardInterrupt: Ctrl-C or SIGTERM; the trial is failed and queued again.
    """
    from lightkit.sweep.trial import TrialReporter, run_trial

    spec = run.spec
    values = {p.name: p.suggest(trial) for p in spec.params}
    args = [*run.base_args, *trial_flags(spec, values), "--run.name", f"trial-{trial.number:04d}"]
    reporter = TrialReporter(trial, spec.metric, on_start=lambda text: trial.set_user_attr("config", text))
    started = time.monotonic()
    _TERMINATED.clear()
    with _heartbeat(run, trial._trial_id):
        outcome = run_trial(args, reporter, on_run_dir=lambda path: trial.set_user_attr("run_dir", str(path)))
    if _TERMINATED.is_set():
        outcome.state = "interrupted"
    seconds = time.monotonic() - started
    gc.collect()  # trainers, models and loggers of finished trials; a long sweep stays flat in memory
    if run.study._storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
        run.say(_taken_over(run, trial))  # this worker looked dead (a pause past the grace period)
        if outcome.state == "interrupted":
            raise KeyboardInterrupt
        return "taken_over"
    trial.set_user_attr("epochs", len(outcome.values))
    names = short_names([p.name for p in spec.params])
    shown = "  ".join(f"{names[k]}={_format(v)}" for k, v in values.items())
    head = f"trial {trial.number:>3}"
    value = outcome.value(spec.direction, spec.value)
    if outcome.state == "complete" and value is None:
        outcome.state, outcome.error = "failed", f"{spec.metric} was never a finite number"
    if outcome.state == "complete":
        _tell(run, trial, TrialState.COMPLETE, value)
        run.say(f"{head}  complete  {spec.metric}={value:.4g}  {shown}  ({seconds:.0f} s)")
    elif outcome.state == "pruned":
        _tell(run, trial, TrialState.PRUNED)
        last = outcome.values.get(outcome.pruned_at or 0)
        at = f" at epoch {outcome.pruned_at + 1}" if outcome.pruned_at is not None else ""
        run.say(f"{head}  pruned{at}  {spec.metric}={_format(last)}  {shown}  ({seconds:.0f} s)")
    elif outcome.state == "interrupted":
        trial.set_user_attr("error", "interrupted")
        _tell(run, trial, TrialState.FAIL)
        _retry(run, trial)
        run.say(f"{head}  interrupted: marked failed and queued again with the same values")
        raise KeyboardInterrupt
    else:
        trial.set_user_attr("error", outcome.error or "")
        _tell(run, trial, TrialState.FAIL)
        first = (outcome.error or "").splitlines()[0] if outcome.error else "unknown error"
        run.say(f"{head}  failed: {first.removeprefix('error: ')}  {shown}")
        if outcome.state == "config_error":
            lines = (outcome.error or "").splitlines()
            message = lines[0].removeprefix("error: ") if lines else "the trial's config is wrong"
            hint = next((ln.removeprefix("hint: ") for ln in lines if ln.startswith("hint: ")), None)
            raise ConfigError(f"trial {trial.number}: {message}", hint)
    return outcome.state


def run_trials(run: SweepRun) -> None:
    """Run trials until the study holds ``run.n_trials`` finished or pruned ones (or is running them).

    Raises:
        ConfigError: A trial's config is wrong; the sweep stops.
        KeyboardInterrupt: Interrupted; the running trial was failed and queued again.
    """
    limit = grid_size(run.spec)
    if limit is not None and run.n_trials > limit:
        run.say(f"the grid has {limit} combinations: running {limit} trials, not {run.n_trials}")
        run.n_trials = limit
    with run.store.lock(run.study.study_name):
        _say_recovered(run)
        done, running = count_done(run.study)
    left = run.n_trials - done - running
    busy = f", {running} running in other workers" if running else ""
    run.say(
        f"study {run.study.study_name}: {done} of {run.n_trials} trials finished or pruned{busy}; "
        f"{max(left, 0)} to run"
    )
    from lightkit.tracking import child_runs  # with --tracking: trials are child runs of the study's run (#17)

    parent = child_runs(run.study.study_name, run.sweep_dir, run.sweep_dir / "runs", {"lightkit.kind": "sweep"})
    with _sigterm_as_interrupt(), parent:
        while True:
            trial = _next_trial(run)
            if trial is None:
                if _wait_for_others(run):
                    continue
                break
            try:
                run_one(run, trial)
            except BaseException as stop:
                # stopped between ask and tell (Ctrl-C at an odd moment, a bug): never leave it RUNNING
                frozen = run.study._storage.get_trial(trial._trial_id)
                if frozen.state == TrialState.RUNNING:
                    with contextlib.suppress(Exception):
                        trial.set_user_attr(
                            "error", f"the sweep stopped while the trial ran ({type(stop).__name__})"
                        )
                        _tell(run, trial, TrialState.FAIL)
                        if isinstance(stop, KeyboardInterrupt):
                            _retry(run, trial)
                raise
