"""``lightkit.load_run``: a trained run comes back from its checkpoint alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import CONFIGS

from lightkit import load_run
from lightkit.errors import CheckpointError

TINY = ("--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1")


@pytest.fixture
def wine_run(lightkit, workdir: Path) -> Path:
    result = lightkit("fit", "--config", str(CONFIGS / "wine_mlp.yaml"), *TINY, "--run.name", "wine")
    assert result.code == 0, result.err
    return workdir / "runs" / "wine"


def test_load_run_rebuilds_model_data_and_config(wine_run: Path):
    run = load_run(wine_run)
    assert run.checkpoint_path == wine_run / "checkpoints" / "best.ckpt"
    assert run.run_dir == wine_run
    assert not run.model.training
    assert run.config["data"]["init_args"]["dataset"] == "wine"
    assert run.config["model"]["init_args"]["num_features"] == 13  # filled from the data module
    saved = torch.load(run.checkpoint_path, weights_only=True)["state_dict"]
    for key, value in run.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    run.datamodule.setup("predict")
    batch = next(iter(run.datamodule.predict_dataloader()))
    with torch.inference_mode():
        out = run.model.predict_step(batch, 0)
    assert out.shape[-1] == 3  # three wine classes


def test_load_run_accepts_best_last_and_a_file(wine_run: Path):
    assert load_run("last").checkpoint_path.name == "last.ckpt"
    assert load_run("best", name="wine").checkpoint_path.name == "best.ckpt"
    assert load_run(wine_run / "checkpoints" / "last.ckpt").epoch == 1


def test_load_run_overrides_data_arguments(wine_run: Path):
    run = load_run(wine_run, overrides={"data": {"batch_size": 7}})
    assert run.datamodule.batch_size == 7


def test_load_run_of_nothing_says_so(workdir: Path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_run("nowhere/model.ckpt")
