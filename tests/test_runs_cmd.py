"""`lightkit runs list|show|plot` read run directories and import no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import yaml

from lightkit.runs import run_info, write_state

METRICS = """epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss
0,3,,,0.80,0.90
0,3,1.10,,,
1,4,,0.7,,
1,7,,,0.90,0.40
1,7,0.60,,,
2,11,,,0.85,0.55
2,11,0.40,,,
"""


def make_run(root: Path, name: str, state: str | None = "finished", dataset: str = "wine", **fields) -> Path:
    """A run directory as `lightkit fit` leaves it, without training anything."""
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    config = {
        "seed_everything": 7,
        "trainer": {"max_epochs": 3, "precision": "bf16-mixed", "accelerator": "cpu"},
        "model": {
            "class_path": "lightkit.components.tabular_mlp.TabularMLP",
            "init_args": {"lr": 0.01, "task": None},
        },
        "data": {
            "class_path": "lightkit.components.sklearn_data.SklearnDataModule",
            "init_args": {"dataset": dataset},
        },
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    versions = {
        "python": "3.11",
        "torch": "2.x",
        "lightning": "2.6",
        "lightkit": "0.1.0",
        "pid": 2**22 + 12345,
        "unix_time": 1.0e9,
    }
    (run / "versions.json").write_text(json.dumps(versions))
    (run / "metrics.csv").write_text(METRICS)
    (run / "checkpoints" / "best.ckpt").write_bytes(b"x")
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    if state is not None:
        write_state(run, "running", monitor="val_loss", mode="min")
        if state != "running":
            write_state(run, state, **fields)
    return run


def test_list_shows_each_run_with_state_and_best_metric(lightkit, workdir: Path):
    make_run(workdir / "runs", "a")
    make_run(workdir / "runs", "b", state="failed", error="NonFiniteLossError: loss is nan")
    make_run(workdir / "runs" / "cv-x", "fold-1")
    (workdir / "runs" / "cv-x" / "cv.json").write_text("{}")
    result = lightkit("runs", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    row_a = next(line for line in lines if line.startswith("a "))
    assert "TabularMLP" in row_a and "SklearnDataModule(wine)" in row_a and "finished" in row_a
    assert "val_loss=0.4 (epoch 2)" in row_a  # the best epoch, not the last
    assert "failed" in next(line for line in lines if line.startswith("b "))
    assert any(line.startswith("cv-x/fold-1 ") for line in lines)


def test_list_json_is_for_scripts(lightkit, workdir: Path):
    make_run(workdir / "elsewhere", "r")
    result = lightkit("runs", "list", "elsewhere", "--json")
    assert result.code == 0, result.err
    (row,) = json.loads(result.out)
    assert row["name"] == "r" and row["state"] == "finished" and row["best"] == 0.4 and row["best_epoch"] == 2
    assert row["duration_s"] is not None and row["duration_s"] >= 0


def test_state_running_is_checked_against_the_process(workdir: Path):
    live = make_run(workdir, "live", state="running")
    assert run_info(live).state == "running"  # this test's own process wrote it
    dead = make_run(workdir, "dead", state="running")
    record = json.loads((dead / "state.json").read_text())
    record["pid"] = 2**22 + 12345  # no such process: the run was killed
    (dead / "state.json").write_text(json.dumps(record))
    assert run_info(dead).state == "interrupted"
    old = make_run(workdir, "old", state=None)  # from before state.json: inferred from the files
    assert run_info(old).state == "finished"


def test_run_recorder_marks_interrupted_and_failed_runs(tmp_path: Path):
    from types import SimpleNamespace

    from lightkit.training.recorder import RunRecorder

    trainer = SimpleNamespace(is_global_zero=True, checkpoint_callback=None)
    recorder = RunRecorder(tmp_path, "model: {}\n", {})
    recorder.setup(trainer, None, "fit")
    assert json.loads((tmp_path / "state.json").read_text())["state"] == "running"
    recorder.on_exception(trainer, None, KeyboardInterrupt())
    assert run_info(tmp_path).state == "interrupted"
    recorder.on_exception(trainer, None, ValueError("bad data\nmore"))
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["state"] == "failed" and state["error"] == "ValueError: bad data"


def test_show_prints_config_versions_and_final_metrics(lightkit, workdir: Path):
    make_run(workdir / "runs", "a")
    result = lightkit("runs", "show", "a")
    assert result.code == 0, result.err
    out = result.out
    assert "model.lr" in out and "0.01" in out and "trainer.precision" in out and "bf16-mixed" in out
    assert "lightning" in out and "2.6" in out
    final = next(line for line in out.splitlines() if line.startswith("val_loss"))
    assert final.split()[-1] == "0.55"  # the last value, not the best
    assert "best.ckpt" in out and "last.ckpt" in out


def test_plot_compares_runs_in_one_png(lightkit, workdir: Path):
    make_run(workdir / "runs", "a")
    make_run(workdir / "runs", "b")
    result = lightkit("runs", "plot", "a", "runs/b", "--metric", "train_loss")
    assert result.code == 0, result.err
    png = workdir / "runs" / "a" / "plot-train_loss.png"
    assert str(png.relative_to(workdir)) in result.out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_plot_of_an_unknown_metric_suggests_one(lightkit, workdir: Path):
    make_run(workdir / "runs", "a")
    result = lightkit("runs", "plot", "a", "--metric", "val_accuracy")
    assert result.code == 2
    assert "val_accuracy" in result.err and "did you mean 'val_acc'" in result.err


def test_unknown_run_and_unknown_action_are_short_errors(lightkit, workdir: Path):
    make_run(workdir / "runs", "alpha")
    result = lightkit("runs", "show", "alpah")
    assert result.code == 2 and "did you mean 'alpha'" in result.err
    result = lightkit("runs", "lsit")
    assert result.code == 2 and "did you mean 'list'" in result.err
    assert "Traceback" not in result.err


PROBE = """
import sys
from lightkit.cli import main
codes = [main(["runs", "list"]), main(["runs", "show", "a"])]
codes.append(main(["runs", "plot", "a", "--metric", "val_acc"]))
print("CODES", codes, "HEAVY", sorted(m for m in ("torch", "lightning") if m in sys.modules), file=sys.stderr)
"""


def test_runs_commands_import_no_torch(workdir: Path):
    make_run(workdir / "runs", "a")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=workdir, capture_output=True, text=True, env=os.environ
    )
    assert "CODES [0, 0, 0] HEAVY []" in proc.stderr, proc.stderr


def test_a_run_resumed_twice_counts_from_its_first_start_and_adds_up_every_part(workdir: Path, monkeypatch):
    """Three parts of 10 s, 5 s (killed: its end is its last write) and 2 s: 17 s, from the first start."""
    import lightkit.runs.record as record

    run = make_run(workdir / "runs", "r", state=None)
    clock = iter([1000.0, 1010.0, 2000.0, 3000.0, 3002.0])
    monkeypatch.setattr(record.time, "time", lambda: next(clock))
    write_state(run, "running", monitor="val_loss", mode="min")
    write_state(run, "finished")
    write_state(run, "running", monitor="val_loss", mode="min")  # killed with -9: no end recorded
    for name in ("metrics.csv", "checkpoints/last.ckpt"):
        os.utime(run / name, (2005.0, 2005.0))
    write_state(run, "running", monitor="val_loss", mode="min")
    write_state(run, "finished")
    info = run_info(run)
    assert (info.duration_s, info.parts) == (17.0, 3)
    assert info.started == datetime.fromtimestamp(1000.0).isoformat(sep=" ", timespec="seconds")


def test_runs_list_shows_a_twice_resumed_run_from_its_first_start(lightkit, workdir: Path):
    from conftest import CONFIGS

    wine = str(CONFIGS / "wine_mlp.yaml")
    quiet = ("--trainer.enable_model_summary", "false")
    assert lightkit("fit", "--config", wine, "--trainer.max_epochs", "1", "--run.name", "w", *quiet).code == 0
    first = json.loads((workdir / "runs" / "w" / "state.json").read_text())
    parts = [first["ended"] - first["started"]]
    for epochs in ("2", "3"):
        resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", "w", "--trainer.max_epochs", epochs, *quiet)
        assert resumed.code == 0, resumed.err
        state = json.loads((workdir / "runs" / "w" / "state.json").read_text())
        parts.append(state["ended"] - state["part_started"])
    assert state["started"] == first["started"] and state["parts"] == 3
    listed = lightkit("runs", "list", "--json")
    (row,) = json.loads(listed.out)
    assert row["started"] == datetime.fromtimestamp(first["started"]).isoformat(sep=" ", timespec="seconds")
    assert abs(row["duration_s"] - sum(parts)) <= 0.1 and row["parts"] == 3  # every part, not the last
    table = lightkit("runs", "list")
    assert "(3 parts)" in next(line for line in table.out.splitlines() if line.startswith("w "))
