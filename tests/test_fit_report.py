"""What ``lightkit fit`` shows: the epoch lines, the progress bar, and how a fit ends."""

from __future__ import annotations

import csv
import io
import shlex
from pathlib import Path

from conftest import CONFIGS

WINE = str(CONFIGS / "wine_mlp.yaml")
QUIET = ("--trainer.enable_model_summary", "false")


def _epoch_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("epoch ")]


def test_a_fit_ends_with_the_best_score_the_last_epoch_the_time_and_commands_that_work(lightkit, workdir: Path):
    fit = lightkit("fit", "--config", WINE, "--trainer.max_epochs", "3", "--run.name", "wine", *QUIET)
    assert fit.code == 0, fit.err
    tail = fit.err.strip().splitlines()[-10:]
    with open(workdir / "runs" / "wine" / "metrics.csv", newline="") as handle:
        losses = {int(r["epoch"]) + 1: float(r["val_loss"]) for r in csv.DictReader(handle) if r.get("val_loss")}
    best_epoch = min(losses, key=losses.get)
    assert tail[0] == f"best: val_loss={losses[best_epoch]:.4g} at epoch {best_epoch} of 3"
    last = _epoch_lines(fit.out)[-1].split("  ")[1:]  # the epoch line's numbers
    assert tail[1].startswith("last epoch (3): train_loss=") and "val_acc=" in tail[1]
    assert set(tail[1].split(": ", 1)[1].split("  ")) <= set(last)  # the same numbers, fewer of them
    assert tail[2].startswith("time: ") and tail[2].endswith(" s")
    assert tail[3:6] == [
        "run directory: runs/wine",  # both paths relative to the working directory
        "best checkpoint: runs/wine/checkpoints/best.ckpt",
        "next:",
    ]
    commands = [shlex.split(line.strip()) for line in tail[6:]]
    assert [c[:2] for c in commands] == [["lightkit", "predict"], ["lightkit", "test"], ["lightkit", "runs"]]
    for command in commands:  # ready to paste
        assert lightkit(*command[1:]).code == 0, command


def test_a_resumed_fit_says_the_time_of_this_part_and_of_all(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, "--trainer.max_epochs", "1", "--run.name", "r", *QUIET).code == 0
    again = lightkit("fit", "--ckpt_path", "last", "--run.name", "r", "--trainer.max_epochs", "2", *QUIET)
    assert again.code == 0, again.err
    (time_line,) = [line for line in again.err.splitlines() if line.startswith("time: ")]
    assert "(this part; " in time_line and " in all, over 2 parts)" in time_line


def test_the_epoch_line_shows_the_learning_rate_the_epoch_trained_with(lightkit, workdir: Path):
    fit = lightkit(
        "fit", "--config", WINE, "--trainer.max_epochs", "3", "--run.name", "lr", *QUIET,
        "--optimizer", "AdamW", "--optimizer.lr", "0.01",
        "--lr_scheduler", "StepLR", "--lr_scheduler.step_size", "1", "--lr_scheduler.gamma", "0.5",
        "--trainer.callbacks+=LearningRateMonitor",
    )  # fmt: skip
    assert fit.code == 0, fit.err
    shown = [dict(p.split("=") for p in line.split("  ")[1:])["lr-AdamW"] for line in _epoch_lines(fit.out)]
    assert shown == ["0.01", "0.005", "0.0025"]
    with open(workdir / "runs" / "lr" / "metrics.csv", newline="") as handle:
        logged = [float(r["lr-AdamW"]) for r in csv.DictReader(handle) if r.get("lr-AdamW")]  # once an epoch
    assert [float(v) for v in shown] == logged  # metrics.csv agrees


def test_the_progress_bar_on_a_terminal_shows_no_tensorboard_version(workdir: Path, monkeypatch):
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ProgressBar
    from lightning.pytorch.loggers import TensorBoardLogger

    from lightkit.training.run_setup import progress_callbacks

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Terminal())
    config: dict = {}
    progress_callbacks(config)
    (bar,) = [c for c in config["callbacks"] if isinstance(c, ProgressBar)]
    logger = TensorBoardLogger(str(workdir), name="", version="tensorboard")  # as every run directory has
    trainer = Trainer(logger=logger, callbacks=config["callbacks"], enable_checkpointing=False)
    metrics = bar.get_metrics(trainer, None)
    assert "v_num" not in metrics


def test_k_fold_prints_the_model_summary_once(lightkit, workdir: Path):
    fit = lightkit(
        "fit", "--config", str(CONFIGS / "breast_cancer_mlp.yaml"), "--trainer.max_epochs", "1",
        "--cv.folds", "2", "--run.name", "cv",
    )  # fmt: skip
    assert fit.code == 0, fit.err
    assert (fit.out + fit.err).count("Total params") == 1
    assert "FLOPs" in fit.out and "Total FLOPs: 0" not in fit.out and "In sizes" not in fit.out
    assert "lightkit predict --ckpt_path runs/cv" in fit.err  # the next commands are the whole's
    assert "lightkit predict --ckpt_path runs/cv/fold-" not in fit.err


def test_the_model_summary_counts_the_flops_of_one_row():
    from lightning.pytorch.utilities.model_summary import ModelSummary

    from lightkit.components.tabular_mlp import TabularMLP

    plain = TabularMLP(hidden_sizes=[8], task="multiclass", num_features=13, num_outputs=3, batch_norm=False)
    assert ModelSummary(plain).total_flops == 2 * (13 * 8 + 8 * 3)  # two linear layers, one row
    embedded = TabularMLP(task="binary", num_features=4, num_outputs=1, category_sizes=[3, 5], embedding_dim=2)
    assert ModelSummary(embedded).total_flops > 0
