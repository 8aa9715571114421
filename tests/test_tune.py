"""`lightkit tune lr|batch_size`: Lightning's Tuner on what `fit` builds; configs that `fit` trains with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import CONFIGS

from lightkit.components.sklearn_data import SklearnDataModule
from lightkit.components.tabular_mlp import TabularMLP

WINE = str(CONFIGS / "wine_mlp.yaml")

#: batch sizes the model below was trained on, in order
SEEN_BATCH_SIZES: list[int] = []


class RecordingMLP(TabularMLP):
    """TabularMLP that records the size of every training batch it gets."""

    def training_step(self, batch, batch_idx):
        SEEN_BATCH_SIZES.append(len(batch["y"]))
        return super().training_step(batch, batch_idx)


class FixedBatches(SklearnDataModule):
    """Wine with a batch size that is not an argument."""

    def __init__(self, seed: int = 42) -> None:
        super().__init__(dataset="wine", seed=seed)


def test_tune_lr_prints_a_rate_saves_the_plot_and_writes_a_config_fit_trains_with(lightkit, workdir: Path):
    result = lightkit(
        "tune",
        "lr",
        "--config",
        WINE,
        "--num_training",
        "25",
        "--write_config",
        "tuned.yaml",
        "--plot",
        "out/lr.png",
    )
    assert result.code == 0, result.err
    rate = float(re.search(r"suggested learning rate: (\S+)", result.out).group(1))
    assert 1e-8 <= rate <= 1.0
    png = workdir / "out" / "lr.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "out/lr.png" in result.err
    tuned = yaml.safe_load((workdir / "tuned.yaml").read_text())
    assert tuned["model"]["init_args"]["lr"] == rate
    assert tuned["model"]["init_args"]["hidden_sizes"] == [64, 32]  # the rest of the config is kept
    assert "write_config" not in tuned and "num_training" not in tuned
    assert not (workdir / "runs").exists()  # tuning leaves no run directory

    fit = lightkit("fit", "--config", "tuned.yaml", "--trainer.max_epochs", "1", "--run.name", "tuned")
    assert fit.code == 0, fit.err
    trained = yaml.safe_load((workdir / "runs" / "tuned" / "config.yaml").read_text())
    assert trained["model"]["init_args"]["lr"] == rate


def test_tune_lr_writes_the_rate_into_a_configured_optimizer(lightkit, workdir: Path):
    result = lightkit(
        "tune",
        "lr",
        "--config",
        WINE,
        "--optimizer",
        "Adam",
        "--num_training",
        "15",
        "--write_config",
        "t.yaml",
    )
    assert result.code == 0, result.err
    rate = float(re.search(r"suggested learning rate: (\S+)", result.out).group(1))
    tuned = yaml.safe_load((workdir / "t.yaml").read_text())
    assert tuned["optimizer"]["init_args"]["lr"] == rate
    assert tuned["model"]["init_args"]["lr"] == 0.003  # unchanged: the optimizer's rate wins


def test_tune_batch_size_changes_the_batches_the_model_trains_on(lightkit, workdir: Path):
    SEEN_BATCH_SIZES.clear()
    result = lightkit(
        "tune", "batch_size", "--config", WINE, "--model", "test_tune.RecordingMLP",
        "--steps_per_trial", "1", "--write_config", "bs.yaml",
    )  # fmt: skip
    assert result.code == 0, result.err
    # wine's train split has 106 rows: 2, 4, ..., 64 run, then the whole split is the limit
    assert SEEN_BATCH_SIZES[:6] == [2, 4, 8, 16, 32, 64]
    assert "batch size found: 106" in result.out
    assert yaml.safe_load((workdir / "bs.yaml").read_text())["data"]["init_args"]["batch_size"] == 106


def test_tune_batch_size_refuses_a_data_module_without_batch_size(lightkit):
    result = lightkit("tune", "batch_size", "--config", WINE, "--data", "test_tune.FixedBatches")
    assert result.code == 2
    assert "FixedBatches has no batch_size argument" in result.err and "Traceback" not in result.err


def test_tune_usage_and_unknown_command(lightkit):
    usage = lightkit("tune")
    assert usage.code == 0 and "lr" in usage.out and "batch_size" in usage.out
    result = lightkit("tune", "learning_rate")
    assert result.code == 2 and "tune commands are: lr, batch_size" in result.err


def test_importing_the_tune_command_costs_no_torch():
    probe = (
        "import sys, lightkit.cli.tune; print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_plot_goes_beside_the_config_or_under_the_runs_root(lightkit, workdir: Path):
    """Without --plot, nothing lands in the working directory but what was asked for."""
    alone = lightkit("tune", "lr", "--config", WINE, "--num_training", "20")
    assert alone.code == 0, alone.err
    assert [p.name for p in workdir.iterdir()] == ["runs"] and (workdir / "runs" / "lr_find.png").is_file()
    assert "plot (20 rates tried): runs/lr_find.png" in alone.err
    beside = lightkit("tune", "lr", "--config", WINE, "--num_training", "20", "--write_config", "cfg/tuned.yaml")
    assert beside.code == 0, beside.err
    assert sorted(p.name for p in (workdir / "cfg").iterdir()) == ["tuned.lr_find.png", "tuned.yaml"]
    assert sorted(p.name for p in workdir.iterdir()) == ["cfg", "runs"]
