"""Where a run writes: under ``trainer.default_root_dir``, nothing else in the working directory,
``last.ckpt`` at the last epoch, and a user's own checkpoint or logger beside lightkit's."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from conftest import CONFIGS, TINY

WINE = str(CONFIGS / "wine_mlp.yaml")


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_default_root_dir_holds_the_whole_run_and_predict_writes_only_predictions(lightkit, workdir: Path):
    root = workdir / "elsewhere"
    fit = lightkit("fit", "--config", WINE, *TINY, "--trainer.default_root_dir", str(root), "--run.name", "w")
    assert fit.code == 0, fit.err
    assert sorted(os.listdir(workdir)) == ["elsewhere"]  # nothing in the working directory
    run = root / "w"
    assert {"config.yaml", "versions.json", "state.json", "metrics.csv", "checkpoints", "tensorboard"} <= set(
        os.listdir(run)
    )
    before = set(os.listdir(run))
    for command in ("predict", "test", "validate"):
        result = lightkit(command, "--ckpt_path", "best", "--trainer.default_root_dir", str(root))
        assert result.code == 0, result.err
    assert sorted(os.listdir(workdir)) == ["elsewhere"]  # no lightning_logs/ from evaluation
    assert set(os.listdir(run)) - before == {"predictions.csv"}


def test_last_checkpoint_is_the_last_epoch(lightkit, workdir: Path):
    fit = lightkit("fit", "--config", WINE, "--trainer.max_epochs", "6", "--run.name", "w")
    assert fit.code == 0, fit.err
    last = _load(workdir / "runs/w/checkpoints/last.ckpt")
    best = _load(workdir / "runs/w/checkpoints/best.ckpt")
    assert last["epoch"] == 5 and last["global_step"] == 6 * 4  # 4 batches of 32 per epoch
    assert best["epoch"] <= last["epoch"]
    lines = fit.err.splitlines()
    (said,) = [line for line in lines if line.startswith("best: val_loss=")]
    assert said.endswith(f" at epoch {best['epoch'] + 1} of 6")  # the epoch best.ckpt was saved at
    assert "best checkpoint: runs/w/checkpoints/best.ckpt" in lines
    assert "  lightkit predict --ckpt_path runs/w" in lines


def test_a_users_own_model_checkpoint_and_logger_sit_beside_lightkits(lightkit, workdir: Path):
    fit = lightkit(
        "fit", "--config", WINE, *TINY, "--run.name", "mine",
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.monitor", "val_acc", "--trainer.callbacks.mode", "max",
        "--trainer.callbacks.dirpath", str(workdir / "my_ckpts"),
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(workdir / "my_logs"),
    )  # fmt: skip
    assert fit.code == 0, fit.err
    assert list((workdir / "my_ckpts").glob("*.ckpt"))  # the user's callback saved where it was told
    assert list((workdir / "my_logs").rglob("metrics.csv"))  # and the user's logger logged
    run = workdir / "runs" / "mine"
    assert (run / "metrics.csv").is_file()  # lightkit's run-directory loggers are still there
    for which in ("best", "last"):
        result = lightkit("predict", "--ckpt_path", which, "--run.name", "mine")
        assert result.code == 0, result.err
        assert (run / "predictions.csv").is_file()
    runs = lightkit("runs", "show", "mine")
    assert runs.code == 0 and "val_loss" in runs.out


def test_logger_false_keeps_checkpoints_and_says_there_are_no_metrics(lightkit, workdir: Path):
    fit = lightkit("fit", "--config", WINE, *TINY, "--run.name", "quiet", "--trainer.logger", "false")
    assert fit.code == 0, fit.err
    run = workdir / "runs" / "quiet"
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / "metrics.csv").exists()


def test_the_environment_is_left_as_found(lightkit, workdir: Path):
    before = dict(os.environ)
    assert lightkit("fit", "--config", WINE, *TINY).code == 0
    leaked = {k for k in os.environ if k not in before and not k.startswith("PL_")}
    assert leaked == set()


def test_lightkits_checkpoint_callbacks_keep_their_state_keys_and_compute_them_once():
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lightkit.training.run_setup import BestCheckpoint, LastCheckpoint

    best = BestCheckpoint(dirpath="runs/x/checkpoints", filename="best", monitor="val_loss", mode="min")
    plain = ModelCheckpoint(dirpath="runs/x/checkpoints", filename="best", monitor="val_loss", mode="min")
    # the keys callback states are saved under in every checkpoint: as written by earlier versions
    same = plain.state_key.replace("ModelCheckpoint{", "BestCheckpoint{", 1)
    assert best.state_key == f"lightkit-best{same}" != plain.state_key
    assert LastCheckpoint("runs/x/checkpoints").state_key.startswith("lightkit-lastLastCheckpoint{")
    assert best.__dict__["state_key"] == best.state_key  # cached: Lightning asks on every hook call
