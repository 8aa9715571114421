"""Registered short names and full class paths both select components, as in LightningCLI."""

from __future__ import annotations

from pathlib import Path

from conftest import FAST

DEMO = ("--model", "lightning.pytorch.demos.boring_classes.DemoModel",
        "--data", "lightning.pytorch.demos.boring_classes.BoringDataModule")


def test_short_names_on_the_command_line(lightkit):
    result = lightkit("fit", "--model", "TabularMLP", "--data", "SklearnDataModule", "--data.dataset", "iris", *FAST)
    assert result.code == 0, result.err


def test_full_class_paths_work_as_in_lightningcli(lightkit):
    result = lightkit("fit", *DEMO, *FAST)
    assert result.code == 0, result.err


def test_short_names_in_yaml_and_callbacks_append(lightkit, workdir: Path):
    config = workdir / "c.yaml"
    config.write_text(
        "model:\n  class_path: TabularMLP\n  init_args:\n    hidden_sizes: [8]\n"
        "data:\n  class_path: SklearnDataModule\n  init_args:\n    dataset: iris\n"
    )
    result = lightkit(
        "fit", "--config", str(config), "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor=val_loss", *FAST,
    )
    assert result.code == 0, result.err


def test_plain_lightningcli_config_loads(lightkit, workdir: Path):
    """A config written by a plain LightningCLI program (full class paths, init_args) loads unchanged."""
    config = workdir / "plain.yaml"
    config.write_text(
        "seed_everything: 1\n"
        "trainer:\n  max_epochs: 1\n  logger: false\n"
        "model:\n  class_path: lightning.pytorch.demos.boring_classes.DemoModel\n"
        "  init_args:\n    out_dim: 2\n    learning_rate: 0.01\n"
        "data:\n  class_path: lightning.pytorch.demos.boring_classes.BoringDataModule\n"
        "optimizer:\n  class_path: torch.optim.SGD\n  init_args:\n    lr: 0.01\n"
    )
    result = lightkit("fit", "--config", str(config), *FAST)
    assert result.code == 0, result.err


def test_unknown_model_gets_did_you_mean_in_a_few_lines(lightkit):
    result = lightkit("fit", "--model", "TabularMPL", "--data", "SklearnDataModule")
    assert result.code == 2
    assert "unknown model 'TabularMPL' (from --model)" in result.err
    assert "did you mean 'TabularMLP'" in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) <= 10


def test_unknown_name_in_a_config_names_the_file(lightkit, workdir: Path):
    config = workdir / "bad.yaml"
    config.write_text("data:\n  class_path: SklearnDataModul\n")
    result = lightkit("fit", "--config", str(config), "--model", "TabularMLP")
    assert result.code == 2
    assert "bad.yaml" in result.err and "SklearnDataModule" in result.err
