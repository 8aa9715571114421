"""Checkpoints rebuild their run: predict/test/validate need only --ckpt_path; precedence
is checkpoint < config files < flags; a resumed run ends with the same weights."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from conftest import CONFIGS, TINY

WINE = str(CONFIGS / "wine_mlp.yaml")


def test_test_and_validate_from_the_checkpoint_alone(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, *TINY, "--run.name", "w").code == 0
    ckpt = str(workdir / "runs" / "w" / "checkpoints" / "best.ckpt")
    for command in ("test", "validate"):
        result = lightkit(command, "--ckpt_path", ckpt)
        assert result.code == 0, result.err
        assert f"{'test' if command == 'test' else 'val'}_acc" in result.out


def test_precedence_checkpoint_then_files_then_flags(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, *TINY, "--run.name", "w").code == 0
    ckpt = str(workdir / "runs" / "w" / "checkpoints" / "last.ckpt")
    override = workdir / "o.yaml"
    override.write_text("data:\n  init_args:\n    batch_size: 16\n    eval_batch_size: 8\n")
    result = lightkit("predict", "--ckpt_path", ckpt, "--config", str(override), "--data.batch_size", "4",
                      "--print_config")
    assert result.code == 0, result.err
    data = yaml.safe_load(result.out)["data"]["init_args"]
    assert data["dataset"] == "wine"  # from the checkpoint
    assert data["eval_batch_size"] == 8  # the file over the checkpoint
    assert data["batch_size"] == 4  # the flag over the file
    sources = lightkit("predict", "--ckpt_path", ckpt, "--config", str(override), "--print_config=sources")
    rows = {line.split()[0]: line.split()[-1] for line in sources.out.splitlines()[1:]}
    assert rows["data.dataset"].endswith("last.ckpt") and rows["data.eval_batch_size"] == f"{override}:4"


def test_changes_against_the_checkpoint_are_printed(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, *TINY, "--run.name", "w").code == 0
    result = lightkit("validate", "--ckpt_path", "runs/w", "--data.eval_batch_size", "8")
    assert result.code == 0, result.err
    assert "changed against the checkpoint" in result.err and "data.eval_batch_size: None -> 8" in result.err


def test_run_directory_config_reruns(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, *TINY, "--run.name", "first").code == 0
    rerun = lightkit("fit", "--config", "runs/first/config.yaml", "--run.name", "second")
    assert rerun.code == 0, rerun.err
    first = yaml.safe_load((workdir / "runs/first/config.yaml").read_text())
    second = yaml.safe_load((workdir / "runs/second/config.yaml").read_text())
    first["run"]["name"] = second["run"]["name"]
    assert first == second


def test_interrupted_and_resumed_run_ends_with_the_same_weights(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, "--trainer.max_epochs", "4", "--run.name", "straight").code == 0
    assert lightkit("fit", "--config", WINE, "--trainer.max_epochs", "2", "--run.name", "stopped").code == 0
    resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", "stopped", "--trainer.max_epochs", "4")
    assert resumed.code == 0, resumed.err
    a = torch.load(workdir / "runs/straight/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(workdir / "runs/stopped/checkpoints/last.ckpt", weights_only=True)
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"])
    for key, value in a["state_dict"].items():
        assert torch.allclose(value.float(), b["state_dict"][key].float(), atol=1e-6), key
    metrics = (workdir / "runs/stopped/metrics.csv").read_text().splitlines()
    assert len(metrics) == len((workdir / "runs/straight/metrics.csv").read_text().splitlines())
