"""Sweeps shared by workers through a real PostgreSQL server and through an Optuna journal file.

Three `lightkit sweep` processes, started separately, work on one study. One is killed with
SIGKILL in the middle of a trial: the other two finish the study with exactly `--n_trials`
finished trials, the killed trial is marked failed and run again with the same values, and no
trial number or run directory is used twice. A worker on "another machine" that stops beating
is found by the heartbeat. The PostgreSQL server is a throw-away cluster (tests/pg_server.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONFIGS, REPO
from pg_server import throwaway_server, why_unavailable

BASE = str(CONFIGS / "breast_cancer_mlp.yaml")
SWEEP = """\
name: {name}
sampler: {{type: random, seed: 3}}
pruner: none
params:
  model.init_args.lr: {{type: float, low: 1.0e-3, high: 3.0e-2, log: true}}
  model.init_args.hidden_sizes[0]: {{type: int, low: 8, high: 32, step: 8}}
"""
N_TRIALS = 4
#: bounds on waits, so that a broken sweep fails the test instead of hanging it (not timings)
WAIT_FOR_TRIAL_S = 600
WAIT_FOR_WORKERS_S = 900

needs_postgres = pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))


@pytest.fixture(scope="module")
def postgres():
    with throwaway_server() as server:
        yield server


def _sweep_file(workdir: Path, name: str) -> str:
    path = workdir / f"{name}.yaml"
    path.write_text(SWEEP.format(name=name))
    return str(path)


def _reader(url: str):
    """A storage of our own to watch the study (no heartbeat, no cache)."""
    import optuna

    if url.startswith("journal://"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url[len("journal://") :]))
    from lightkit.sweep.storage import sqlalchemy_url

    return optuna.storages.RDBStorage(sqlalchemy_url(url))


def _trials(url: str, name: str):
    import optuna

    storage = _reader(url)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def _start_worker(workdir: Path, index: int, args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    log = open(workdir / f"worker{index}.log", "w")  # noqa: SIM115 - closed in _stop_all
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightkit", "sweep", *args],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the test can always kill all of it
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _stop_all(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=60)
        worker.log.close()  # type: ignore[attr-defined]


def _kill_one_mid_trial(workdir: Path, url: str, name: str, workers: list[subprocess.Popen]):
    """SIGKILL the first worker seen running a trial that has reported an epoch; returns (worker, trial)."""
    from optuna.trial import TrialState

    pids = {w.pid: w for w in workers}
    deadline = time.monotonic() + WAIT_FOR_TRIAL_S
    storage = _reader(url)
    while time.monotonic() < deadline and all(w.poll() is None for w in workers):
        if name in {s.study_name for s in storage.get_all_studies()}:
            study_id = storage.get_study_id_from_name(name)
            for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
                pid = trial.user_attrs.get("worker", {}).get("pid")
                if pid in pids and trial.intermediate_values:
                    os.kill(pid, signal.SIGKILL)
                    pids[pid].wait(timeout=60)
                    return pids[pid], trial
        time.sleep(0.1)
    logs = "\n".join((workdir / f"worker{i}.log").read_text()[-1500:] for i in range(len(workers)))
    raise AssertionError(f"no worker was seen in the middle of a trial:\n{logs}")


def _three_workers_one_killed(workdir: Path, url: str, name: str, dirs: list[str]) -> None:
    sweep = _sweep_file(workdir, name)
    common = ["--config", BASE, "--sweep", sweep, "--n_trials", str(N_TRIALS), "--storage", url]
    common += ["--trainer.max_epochs", "4", "--no_plots"]
    workers: list[subprocess.Popen] = []
    try:
        for i, directory in enumerate(dirs):
            workers.append(_start_worker(workdir, i, [*common, "--dir", directory]))
        victim, killed = _kill_one_mid_trial(workdir, url, name, workers)
        survivors = [w for w in workers if w is not victim]
        for worker in survivors:
            worker.wait(timeout=WAIT_FOR_WORKERS_S)
    finally:
        _stop_all(workers)
    outputs = {w.pid: (workdir / f"worker{workers.index(w)}.log").read_text() for w in workers}
    assert victim.returncode == -signal.SIGKILL
    for worker in survivors:
        assert worker.returncode == 0, outputs[worker.pid][-3000:]

    trials = _trials(url, name)
    by_state: dict[str, list] = {}
    for trial in trials:
        by_state.setdefault(trial.state.name, []).append(trial)
    assert len(by_state.get("COMPLETE", [])) == N_TRIALS  # exactly the requested number
    assert [t.number for t in by_state["FAIL"]] == [killed.number]  # the killed one, and only it
    assert set(by_state) == {"COMPLETE", "FAIL"}  # nothing left running or queued
    failed = by_state["FAIL"][0]
    host = socket.gethostname()
    assert failed.user_attrs["error"] == f"interrupted: process {victim.pid} on {host} is gone"
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == killed.number)
    assert retry.state.name == "COMPLETE" and retry.params == killed.params  # run again, same values
    assert retry.user_attrs["worker"]["pid"] in {w.pid for w in survivors}
    line = (
        f"trial {killed.number} was left running: process {victim.pid} on {host} is gone; "
        f"marked failed, queued again as trial {retry.number}"
    )
    assert sum(line in out for out in outputs.values()) == 1, outputs

    # no trial number and no run directory is used twice
    assert sorted(t.number for t in trials) == list(range(N_TRIALS + 1))
    run_dirs = [p for d in set(dirs) for p in (workdir / d / "runs").iterdir()]
    assert sorted(p.name for p in run_dirs) == [f"trial-{n:04d}" for n in range(N_TRIALS + 1)]
    recorded = [Path(t.user_attrs["run_dir"]).resolve() for t in trials]
    assert len(set(recorded)) == len(trials)
    assert {p.resolve() for p in run_dirs} == set(recorded)
    for trial in by_state["COMPLETE"]:
        assert (Path(trial.user_attrs["run_dir"]) / "checkpoints" / "last.ckpt").is_file()
    killed_dir = Path(failed.user_attrs["run_dir"])
    assert killed_dir.parent.parent.resolve() == (workdir / dirs[workers.index(victim)]).resolve()


@needs_postgres
@pytest.mark.slow
def test_three_workers_on_postgresql_finish_the_study_when_one_is_killed(workdir, postgres):
    # separate --dir per worker, as on separate machines: they share only the database
    _three_workers_one_killed(workdir, postgres.url, "pg_kill", ["node0", "node1", "node2"])


@pytest.mark.slow
def test_three_workers_on_a_journal_file_finish_the_study_when_one_is_killed(workdir):
    # a journal on a shared file system, and one shared sweep directory beside it
    (workdir / "shared").mkdir()  # the shared file system
    url = f"journal://{workdir / 'shared' / 'study.log'}"  # journal:///tmp/.../study.log
    _three_workers_one_killed(workdir, url, "journal_kill", ["shared/sweep"] * 3)


# -- a worker on another machine that stops beating ---------------------------------------------------------
def _abandoned_trial(url: str, name: str, sweep: str, workdir: Path):
    """A trial RUNNING on 'another machine' whose worker beat once and then went silent."""
    from lightkit.sweep.space import load_sweep_spec
    from lightkit.sweep.storage import Heartbeat, open_store
    from lightkit.sweep.study import PRUNERS, SAMPLERS, open_study, queue_retry

    spec = load_sweep_spec(sweep, tuple(SAMPLERS), tuple(PRUNERS))
    store = open_store(url, workdir, Heartbeat(1, 3), queue_retry)
    study = open_study(spec, store, name)
    trial = study.ask()
    values = {p.name: p.suggest(trial) for p in spec.params}
    store.storage.record_heartbeat(trial._trial_id)
    trial.set_user_attr("worker", {"host": "node-elsewhere", "pid": 1})
    return trial.number, values


@pytest.mark.parametrize("kind", ["postgresql", "journal"])
def test_a_trial_whose_remote_worker_stops_beating_is_failed_and_run_again(lightkit, workdir, kind, request):
    if kind == "postgresql":
        if why_unavailable() is not None:
            pytest.skip(why_unavailable())
        url = request.getfixturevalue("postgres").url
    else:
        url = f"journal://{workdir / 'study.log'}"
    name = f"remote_{kind}"
    sweep = _sweep_file(workdir, name)
    number, values = _abandoned_trial(url, name, sweep, workdir)
    result = lightkit(
        "sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "1", "--storage", url,
        "--heartbeat_interval", "1", "--grace_period", "3", "--trainer.max_epochs", "1", "--no_plots",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert (
        f"trial {number} was left running: no heartbeat for 3 s; marked failed, queued again as trial 1"
        in (result.out)
    )
    trials = _trials(url, name)
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].params == values and trials[1].system_attrs["failed_trial"] == number
    assert trials[0].user_attrs["error"] == "interrupted: no heartbeat for 3 s"
    assert "1 complete" in result.out


# -- storage URLs and options ------------------------------------------------------------------------------
def test_a_postgresql_url_uses_psycopg_3_when_psycopg2_is_absent(monkeypatch):
    import importlib.util

    from lightkit.sweep.storage import sqlalchemy_url, storage_kind

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "psycopg2" else real(n, *a))
    assert sqlalchemy_url("postgresql://u:p@db:5432/optuna") == "postgresql+psycopg://u:p@db:5432/optuna"
    assert sqlalchemy_url("postgresql+psycopg2://u@db/o") == "postgresql+psycopg2://u@db/o"  # as written
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"
    assert [
        storage_kind(u) for u in ("sqlite:///a", "postgresql+psycopg://h/d", "journal:///a", "mysql://h")
    ] == [
        "sqlite",
        "postgresql",
        "journal",
        "rdb",
    ]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--storage", "journal://"], "--storage 'journal://' names no journal file"),
        (["--heartbeat_interval", "0"], "--heartbeat_interval must be at least 1 second, got 0"),
        (["--heartbeat_interval", "30", "--grace_period", "30"], "--grace_period 30 must be longer than"),
    ],
)
def test_bad_storage_and_heartbeat_options_are_named(lightkit, workdir, flags, expected):
    sweep = _sweep_file(workdir, "bad")
    result = lightkit("sweep", "--config", BASE, "--sweep", sweep, *flags)
    assert result.code == 2, result.err
    assert result.err.startswith(f"error: {expected}")


def test_an_unreachable_postgresql_server_is_one_error_without_the_password(lightkit, workdir):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sweep = _sweep_file(workdir, "down")
    result = lightkit(
        "sweep", "--config", BASE, "--sweep", sweep, "--storage", f"postgresql://me:s3cret@127.0.0.1:{port}/o"
    )
    assert result.code == 2
    assert result.err.startswith(
        f"error: cannot open the study storage 'postgresql://me:***@127.0.0.1:{port}/o'"
    )
    assert "s3cret" not in result.err and "Traceback" not in result.err
