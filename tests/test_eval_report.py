"""What ``predict``, ``test`` and ``validate`` say: rows, source and columns; the checkpoint."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS

WINE = str(CONFIGS / "wine_mlp.yaml")
QUIET = ("--trainer.enable_model_summary", "false")


@pytest.fixture
def wine_run(lightkit, workdir: Path) -> Path:
    fit = lightkit("fit", "--config", WINE, "--trainer.max_epochs", "2", "--run.name", "wine", *QUIET)
    assert fit.code == 0, fit.err
    return workdir / "runs" / "wine"


def _header(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


def test_predict_says_how_many_rows_from_where_and_which_columns(lightkit, wine_run: Path):
    predict = lightkit("predict", "--ckpt_path", "runs/wine")
    assert predict.code == 0, predict.err
    lines = predict.err.strip().splitlines()
    assert lines[-2:] == [
        "predictions written to runs/wine/predictions.csv: 36 rows (the test split of scikit-learn's wine dataset)",
        f"columns: {', '.join(_header(wine_run / 'predictions.csv'))}",
    ]


def test_predict_on_a_file_names_the_file(lightkit, workdir: Path):
    fit = lightkit("fit", "--config", str(CONFIGS / "churn_csv.yaml"), "--trainer.max_epochs", "1",
                   "--run.name", "churn", "--data.path", str(CONFIGS / "data" / "churn.csv"), *QUIET)  # fmt: skip
    assert fit.code == 0, fit.err
    new = str(CONFIGS / "data" / "churn_new.csv")
    predict = lightkit("predict", "--ckpt_path", "runs/churn", "--data.path", new)
    assert predict.code == 0, predict.err
    rows = sum(1 for _ in open(new)) - 1
    assert f"predictions written to runs/churn/predictions.csv: {rows} rows (every row of {new})" in predict.err
    assert "columns: customer_id, prediction, prob_0, prob_1" in predict.err


def test_a_second_predict_into_the_same_run_says_it_replaced_the_first(lightkit, wine_run: Path):
    assert lightkit("predict", "--ckpt_path", "runs/wine").code == 0
    again = lightkit("predict", "--ckpt_path", "runs/wine")
    assert again.code == 0, again.err
    (said,) = [line for line in again.err.splitlines() if line.startswith("replaced ")]
    assert said.startswith("replaced runs/wine/predictions.csv of ") and "--run.output FILE keeps both" in said
    elsewhere = lightkit("predict", "--ckpt_path", "runs/wine", "--run.output", "second.csv")
    assert elsewhere.code == 0, elsewhere.err
    assert "replaced" not in elsewhere.err and (wine_run / "predictions.csv").is_file()


@pytest.mark.parametrize("command", ["test", "validate"])
def test_test_and_validate_say_which_checkpoint_the_metrics_are_of(lightkit, wine_run: Path, command: str):
    result = lightkit(command, "--ckpt_path", "runs/wine")
    assert result.code == 0, result.err
    best = torch.load(wine_run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    line = f"metrics of runs/wine/checkpoints/best.ckpt: epoch {best['epoch'] + 1}, global step {best['global_step']}"
    assert result.err.strip().splitlines()[-1] == line
    last = lightkit(command, "--ckpt_path", "last")
    assert "metrics of runs/wine/checkpoints/last.ckpt: epoch 2, global step 8" in last.err


def test_ctrl_c_ends_with_lightkits_own_lines(workdir: Path):
    """The last lines say what was kept and how to resume, after Lightning's own message."""
    with open(workdir / "err.txt", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lightkit", "fit", "--config", WINE, "--trainer.max_epochs", "1000",
             "--run.name", "stop", *QUIET],  # fmt: skip
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=err, env=os.environ,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal gives it
        )  # fmt: skip
    last = workdir / "runs" / "stop" / "checkpoints" / "last.ckpt"
    try:
        while not last.exists():
            assert proc.poll() is None, (workdir / "err.txt").read_text()
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    finally:
        proc.kill()
    lines = [line for line in (workdir / "err.txt").read_text().splitlines() if line.strip()]
    assert lines[-1] == "resume with: lightkit fit --ckpt_path last --run.name stop", lines[-4:]
    assert lines[-2].startswith("interrupted (Ctrl-C) in epoch ") and lines[-2].endswith(
        "runs/stop/checkpoints/last.ckpt holds the last complete epoch"
    )
    assert any("Detected KeyboardInterrupt" in line for line in lines[:-2])
