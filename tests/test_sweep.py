"""`lightkit sweep`: search spaces, trials as run directories, pruning, resume, shared studies.

Trials train TabularMLP on breast_cancer for 1-2 epochs; torch runs on one thread here because
tiny models on a shared 2-core machine are many times slower with two.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import CONFIGS, REPO

BASE = str(CONFIGS / "breast_cancer_mlp.yaml")
EPOCHS = ("--trainer.max_epochs", "2")


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sweep_file(workdir: Path, text: str, name: str = "sweep.yaml") -> str:
    path = workdir / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def load(workdir: Path, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'runs' / 'sweeps' / name / 'study.db'}")


def states(study) -> list[str]:
    return [t.state.name for t in study.get_trials(deepcopy=False)]


LR_AND_SIZES = """\
    name: {name}
    sampler: {{type: random, seed: 1}}
    pruner: none
    params:
      model.init_args.lr: {{type: float, low: 1.0e-3, high: 3.0e-2, log: true}}
      model.init_args.hidden_sizes[0]: {{type: int, low: 8, high: 32, step: 8}}
      model.init_args.hidden_sizes[1]: {{type: int, low: 4, high: 8, step: 4}}
"""


# -- the sweep file ------------------------------------------------------------------------------------
def test_sampled_values_become_fit_flags():
    from lightkit.sweep.space import ParamSpec, SweepSpec, trial_flags

    spec = SweepSpec(
        params=[
            ParamSpec("model.init_args.lr", "float", low=1e-5, high=1e-1, log=True),
            ParamSpec("model.init_args.hidden_sizes[1]", "int", low=4, high=64),
            ParamSpec("model.init_args.hidden_sizes[0]", "int", low=8, high=128),
            ParamSpec("model.init_args.activation", "categorical", choices=("relu", "gelu")),
            ParamSpec("data.init_args.columns", "categorical", choices=(["a", "b"], ["a"])),
        ]
    )
    values = {
        "model.init_args.lr": 1e-05,
        "model.init_args.hidden_sizes[1]": 16,
        "model.init_args.hidden_sizes[0]": 64,
        "model.init_args.activation": "gelu",
        "data.init_args.columns": "[a, b]",  # lists are stored as YAML text
    }
    assert spec.param("data.init_args.columns").stored_choices() == ["[a, b]", "[a]"]
    assert trial_flags(spec, values) == [
        "--model.init_args.lr", "1.0e-05",
        "--model.init_args.activation", "gelu",
        "--data.init_args.columns", "[a, b]",
        "--model.init_args.hidden_sizes", "[64, 16]",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            "model.init_args.lr: {type: normal, low: 0.1, high: 1}",
            "params.model.init_args.lr.type is 'normal'",
        ),
        (
            "model.init_args.lr: {type: float, low: 0.1, high: 0.01}",
            "low must be below high, got low=0.1 high=0.01",
        ),
        ("model.init_args.lr: {type: float, low: 0, high: 0.1, log: true}", "a log scale needs low > 0"),
        ("model.init_args.lr: {type: float, low: 0.1, hihg: 1}", "unknown key 'hihg' for a float parameter"),
        ("model.init_args.hidden_sizes[1]: {type: int, low: 4, high: 8}", "give every item from"),
        ("data.init_args.batch_size: {type: int, low: 8, high: 64.5}", "must be a whole number"),
        ("data.init_args.batch_size: {type: categorical, choices: []}", "choices must be a non-empty list"),
    ],
)
def test_a_bad_distribution_names_the_file_and_the_key(lightkit, workdir, params, expected):
    sweep = sweep_file(workdir, f"params:\n  {params}\n")
    result = lightkit("sweep", "--config", BASE, "--sweep", sweep)
    assert result.code == 2
    assert result.err.startswith(f"error: {sweep}: ")
    assert expected in result.err
    assert "Traceback" not in result.err and len(result.err.splitlines()) <= 10
    assert not (workdir / "runs").exists()


def test_a_sweep_file_that_is_not_yaml_says_where(lightkit, workdir):
    sweep = sweep_file(workdir, "params: [1, 2\n")
    result = lightkit("sweep", "--config", BASE, "--sweep", sweep)
    assert result.code == 2
    assert f"{sweep} is not valid YAML at line 2" in result.err


def test_unknown_top_level_key_suggests_the_right_one(lightkit, workdir):
    sweep = sweep_file(workdir, "metrc: val_acc\nparams: {model.init_args.lr: [0.1, 0.01]}\n")
    result = lightkit("sweep", "--config", BASE, "--sweep", sweep)
    assert result.code == 2
    assert "unknown key 'metrc'" in result.err and "did you mean 'metric'?" in result.err


def test_unknown_config_key_is_reported_before_any_trial(lightkit, workdir):
    sweep = sweep_file(
        workdir, "name: typo\nparams:\n  model.init_args.lrr: {type: float, low: 0.001, high: 0.1}\n"
    )
    result = lightkit("sweep", "--config", BASE, "--sweep", sweep)
    assert result.code == 2
    assert result.err.startswith(f"error: {sweep}: params.model.init_args.lrr:")
    assert "did you mean 'lr'?" in result.err
    assert states(load(workdir, "typo")) == []  # no trial was created


def test_sweep_command_imports_neither_torch_nor_optuna():
    probe = (
        "import sys, lightkit.cli.sweep; print(sorted(m for m in ('torch', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- trials ----------------------------------------------------------------------------------------------
def test_trials_are_run_directories_and_the_best_config_reruns_to_its_value(lightkit, workdir):
    sweep = sweep_file(workdir, LR_AND_SIZES.format(name="bc"))
    result = lightkit(
        "sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "3", *EPOCHS, "--export_best", "best.yaml"
    )
    assert result.code == 0, result.err
    # nothing in the working directory but what was asked for: the sweep lives under runs/
    assert sorted(p.name for p in workdir.iterdir()) == ["best.yaml", "runs", "sweep.yaml"]
    assert "sweep directory: runs/sweeps/bc (trial runs in runs/sweeps/bc/runs)" in result.err

    study = load(workdir, "bc")
    assert states(study) == ["COMPLETE"] * 3
    sweep_dir = workdir / "runs" / "sweeps" / "bc"
    for n in range(3):
        run = sweep_dir / "runs" / f"trial-{n:04d}"
        assert (run / "config.yaml").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    trial = study.trials[1]
    config = (sweep_dir / "runs" / "trial-0001" / "config.yaml").read_text()
    assert f"lr: {trial.params['model.init_args.lr']}" in config
    sizes = [trial.params["model.init_args.hidden_sizes[0]"], trial.params["model.init_args.hidden_sizes[1]"]]
    assert f"hidden_sizes:\n    - {sizes[0]}\n    - {sizes[1]}\n" in config

    # the summary, the trials table and the plots
    assert "study bc" in result.out and f"best: trial {study.best_trial.number}" in result.out
    assert "3 complete" in result.out
    with open(sweep_dir / "trials.csv", newline="") as f:
        assert [row["state"] for row in csv.DictReader(f)] == ["COMPLETE"] * 3
    for plot in ("optimization_history", "param_importances", "parallel_coordinate", "intermediate_values"):
        assert (sweep_dir / "plots" / f"{plot}.png").stat().st_size > 1000

    # the exported config reruns to the reported value
    assert "rerun: lightkit fit --config best.yaml" in result.out
    rerun = lightkit("fit", "--config", "best.yaml", "--run.name", "rerun")
    assert rerun.code == 0, rerun.err
    with open(workdir / "runs" / "rerun" / "metrics.csv", newline="") as f:
        losses = [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    assert min(losses) == pytest.approx(study.best_value, rel=1e-5)

    # asking again runs nothing and shows the same study
    again = lightkit("sweep", "--summary", "--dir", str(sweep_dir), "--no_plots")
    assert again.code == 0 and "3 complete" in again.out


def test_pruned_trials_are_recorded_and_count_toward_n_trials(lightkit, workdir):
    sweep = sweep_file(
        workdir,
        """\
        name: pruned
        pruner: {type: threshold, upper: 0.0}
        params:
          model.init_args.lr: {type: float, low: 1.0e-3, high: 1.0e-2}
        """,
    )
    result = lightkit(
        "sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "2", "--trainer.max_epochs", "3"
    )
    assert result.code == 0, result.err
    study = load(workdir, "pruned")
    assert states(study) == ["PRUNED", "PRUNED"]
    assert all(len(t.intermediate_values) == 1 for t in study.trials)  # stopped after the first epoch
    assert "pruned at epoch 1" in result.out and "2 pruned" in result.out
    assert "no trial has finished yet" in result.out
    export = lightkit("sweep", "--summary", "--sweep", sweep, "--export_best", "best.yaml", "--no_plots")
    assert export.code == 2 and "no finished trial in study 'pruned'" in export.err


def test_grid_sampler_runs_each_combination_once(lightkit, workdir):
    sweep = sweep_file(
        workdir,
        """\
        name: grid
        sampler: grid
        pruner: none
        params:
          model.init_args.hidden_sizes: {type: categorical, choices: [[8], [16, 8]]}
          model.init_args.lr: {type: float, low: 0.001, high: 0.002, step: 0.001}
        """,
    )
    result = lightkit(
        "sweep",
        "--config",
        BASE,
        "--sweep",
        sweep,
        "--n_trials",
        "9",
        "--trainer.max_epochs",
        "1",
        "--no_plots",
    )
    assert result.code == 0, result.err
    assert "the grid has 4 combinations" in result.out
    study = load(workdir, "grid")
    seen = {(t.params["model.init_args.hidden_sizes"], t.params["model.init_args.lr"]) for t in study.trials}
    assert seen == {("[8]", 0.001), ("[8]", 0.002), ("[16, 8]", 0.001), ("[16, 8]", 0.002)}
    config = (workdir / "runs" / "sweeps" / "grid" / "runs" / "trial-0000" / "config.yaml").read_text()
    assert "hidden_sizes:\n    - " in config


def test_a_trial_left_running_by_a_killed_process_is_failed_and_run_again(lightkit, workdir):
    from lightkit.sweep.space import load_sweep_spec
    from lightkit.sweep.study import PRUNERS, SAMPLERS

    sweep = sweep_file(workdir, LR_AND_SIZES.format(name="resume"))
    first = lightkit("sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "1", *EPOCHS, "--no_plots")
    assert first.code == 0, first.err

    # a worker that died in the middle of trial 1: RUNNING, owned by a process that is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study = load(workdir, "resume")
    spec = load_sweep_spec(sweep, tuple(SAMPLERS), tuple(PRUNERS))
    trial = study.ask()
    killed_values = {p.name: p.suggest(trial) for p in spec.params}
    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": dead.pid})
    finished_before = (workdir / "runs" / "sweeps" / "resume" / "runs" / "trial-0000" / "metrics.csv").stat().st_mtime

    again = lightkit("sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "2", *EPOCHS, "--no_plots")
    assert again.code == 0, again.err
    assert (
        f"trial 1 was left running: process {dead.pid} on {socket.gethostname()} is gone; "
        "marked failed, queued again as trial 2" in again.out
    )
    study = load(workdir, "resume")
    assert states(study) == ["COMPLETE", "FAIL", "COMPLETE"]
    assert study.trials[2].params == killed_values  # the same values, run once more
    assert (
        study.trials[1].user_attrs["error"]
        == f"interrupted: process {dead.pid} on {socket.gethostname()} is gone"
    )
    assert (
        "error" not in study.trials[2].user_attrs
    )  # the retry carries none of the failed trial's attributes
    # trial 0 was not run again
    assert (
        workdir / "runs" / "sweeps" / "resume" / "runs" / "trial-0000" / "metrics.csv"
    ).stat().st_mtime == finished_before
    assert "1 of 2 trials finished or pruned; 1 to run" in again.out


def test_a_metric_that_is_never_logged_stops_the_sweep(lightkit, workdir):
    sweep = sweep_file(
        workdir, "name: nometric\nmetric: val_accuracy\nparams: {model.init_args.lr: [0.01, 0.001]}\n"
    )
    result = lightkit("sweep", "--config", BASE, "--sweep", sweep, "--trainer.max_epochs", "1", "--no_plots")
    assert result.code == 2
    assert "metric 'val_accuracy' was never logged" in result.err and "val_acc" in result.err
    assert states(load(workdir, "nometric")) == ["FAIL"]


def test_ddp_inside_a_trial_is_refused(lightkit, workdir):
    sweep = sweep_file(workdir, "name: ddp\nparams: {model.init_args.lr: [0.01]}\n")
    result = lightkit(
        "sweep", "--config", BASE, "--sweep", sweep,
        "--trainer.strategy", "ddp", "--trainer.devices", "2", "--no_plots",
    )  # fmt: skip
    assert result.code == 2
    assert "would start the sweep again in every process" in result.err


# -- workers in separate processes ------------------------------------------------------------------------
def _worker(workdir: Path, sweep: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    args = [
        sys.executable,
        "-m",
        "lightkit",
        "sweep",
        "--config",
        BASE,
        "--sweep",
        sweep,
        *EPOCHS,
        "--no_plots",
    ]
    return subprocess.Popen(
        [*args, *extra], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_two_workers_share_one_study(workdir):
    sweep = sweep_file(workdir, LR_AND_SIZES.format(name="shared"))
    storage = f"sqlite:///{workdir / 'shared.db'}"
    workers = [
        _worker(workdir, sweep, "--n_trials", "5", "--storage", storage, "--dir", f"worker{i}")
        for i in range(2)
    ]
    outputs = [w.communicate() for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    import optuna

    study = optuna.load_study(study_name="shared", storage=storage)
    assert states(study) == ["COMPLETE"] * 5  # exactly n_trials between them, none twice
    pids = {t.user_attrs["worker"]["pid"] for t in study.trials}
    assert pids <= {w.pid for w in workers}
    runs = sorted(p.name for i in range(2) for p in (workdir / f"worker{i}" / "runs").iterdir())
    assert runs == [f"trial-{n:04d}" for n in range(5)]  # each trial ran in one worker's directory


def test_sigterm_fails_the_running_trial_and_a_rerun_runs_it_again(lightkit, workdir):
    import threading

    sweep = sweep_file(workdir, LR_AND_SIZES.format(name="killed"))

    def kill_once_training() -> None:  # SIGTERM to this process once trial 0 is inside its fit
        config = workdir / "runs" / "sweeps" / "killed" / "runs" / "trial-0000" / "config.yaml"  # written at fit start
        while not config.is_file():
            time.sleep(0.1)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=kill_once_training, daemon=True)
    killer.start()
    result = lightkit(
        "sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "2", "--trainer.max_epochs", "100"
    )
    killer.join()
    assert result.code == 130, result.err
    assert "trial   0  interrupted: marked failed and queued again with the same values" in result.out
    assert "run the same command again to continue it" in result.err
    study = load(workdir, "killed")
    assert states(study) == ["FAIL", "WAITING"]
    assert study.trials[1].params == study.trials[0].params
    assert len(study.trials[0].intermediate_values) < 100

    rerun = lightkit("sweep", "--config", BASE, "--sweep", sweep, "--n_trials", "2", *EPOCHS, "--no_plots")
    assert rerun.code == 0, rerun.err
    study = load(workdir, "killed")
    assert states(study) == ["FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[1].params == study.trials[0].params
