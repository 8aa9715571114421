"""Diagnostics: profiler reports in the run directory, bf16 on CPU, overfitting one batch, quiet warnings."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

from conftest import CONFIGS

WINE = str(CONFIGS / "wine_mlp.yaml")
ONE_EPOCH = ("--trainer.max_epochs", "1", "--trainer.enable_model_summary", "false")


def epoch_values(run: Path, column: str) -> list[float]:
    with open(run / "metrics.csv", newline="") as f:
        return [float(r[column]) for r in csv.DictReader(f) if r.get(column)]


def test_profiler_writes_its_report_into_the_run_directory(lightkit, workdir: Path):
    result = lightkit("fit", "--config", WINE, *ONE_EPOCH, "--trainer.profiler", "simple", "--run.name", "p")
    assert result.code == 0, result.err
    report = workdir / "runs" / "p" / "fit-profile.txt"
    assert "FIT Profiler Report" in report.read_text() and "run_training_epoch" in report.read_text()
    assert (
        f"profiler report: {Path('runs') / 'p' / 'fit-profile.txt'}" in result.err
    )  # the run summary says where
    state = json.loads((workdir / "runs" / "p" / "state.json").read_text())
    assert state["state"] == "finished" and state["monitor"] == "val_loss"
    listed = lightkit("runs", "list", "--json")
    (row,) = json.loads(listed.out)
    assert (
        row["name"] == "p"
        and row["state"] == "finished"
        and row["best"] == min(epoch_values(report.parent, "val_loss"))
    )


def test_bf16_mixed_precision_trains_tabular_mlp_on_cpu(lightkit, workdir: Path):
    result = lightkit(
        "fit", "--config", WINE, *ONE_EPOCH, "--trainer.precision", "bf16-mixed", "--run.name", "bf16"
    )
    assert result.code == 0, result.err
    losses = epoch_values(workdir / "runs" / "bf16", "val_loss")
    assert losses and all(math.isfinite(v) for v in losses)


def test_tabular_mlp_overfits_a_single_batch(lightkit, workdir: Path):
    """The sanity check Lightning recommends: one batch, many steps, the loss goes to about zero."""
    result = lightkit(
        "fit", "--config", WINE, "--trainer.overfit_batches", "1", "--trainer.max_epochs", "50",
        "--model.dropout", "0", "--model.lr", "0.01", "--trainer.enable_checkpointing", "false",
        "--trainer.check_val_every_n_epoch", "1000", "--trainer.enable_model_summary", "false",
        "--run.name", "one",
    )  # fmt: skip
    assert result.code == 0, result.err
    losses = epoch_values(workdir / "runs" / "one", "train_loss_epoch")
    assert len(losses) == 50
    assert losses[0] > 0.5 and losses[-1] < 0.05


NOISY = "The 'train_dataloader' does not have many workers which may be a bottleneck. Consider increasing it."
REAL = "`training_step` returned `None`. If this was on purpose, ignore this warning..."


def test_quiet_hides_lightning_advice_but_not_real_problems():
    from lightning.pytorch.utilities import rank_zero_warn

    from lightkit.quiet import quiet_lightning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_lightning()
        rank_zero_warn(NOISY)
        rank_zero_warn(REAL)
    messages = [str(w.message) for w in caught]
    assert messages == [REAL]


def test_show_warnings_environment_variable_turns_the_filters_off():
    probe = (
        "import warnings; from lightkit.quiet import quiet_lightning; quiet_lightning(); "
        f"warnings.warn({NOISY!r})"
    )
    env = {**os.environ, "LIGHTKIT_SHOW_WARNINGS": "1"}
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stderr
    assert "does not have many workers" in shown
    env.pop("LIGHTKIT_SHOW_WARNINGS")
    hidden = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stderr
    assert "does not have many workers" not in hidden
