"""Registered short names and full class paths both select components, as in LightningCLI."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from conftest import FAKE_MODULES, FAST

DEMO = (
    "--model",
    "lightning.pytorch.demos.boring_classes.DemoModel",
    "--data",
    "lightning.pytorch.demos.boring_classes.BoringDataModule",
)


def _printed(result) -> dict:
    assert result.code == 0, result.err
    return yaml.safe_load(result.out)


def test_short_names_on_the_command_line(lightkit):
    args = ("fit", "--model", "TabularMLP", "--data", "SklearnDataModule", "--data.dataset", "iris")
    config = _printed(lightkit(*args, "--print_config"))
    assert config["model"]["class_path"] == "lightkit.components.tabular_mlp.TabularMLP"
    assert config["data"]["class_path"] == "lightkit.components.sklearn_data.SklearnDataModule"
    result = lightkit(*args, *FAST)
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
        "fit",
        "--config",
        str(config),
        "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor=val_loss",
        *FAST,
    )
    assert result.code == 0, result.err
    printed = _printed(lightkit("fit", "--config", str(config), "--trainer.callbacks+=EarlyStopping",
                                "--trainer.callbacks.monitor=val_loss", "--print_config"))  # fmt: skip
    assert printed["model"]["class_path"] == "lightkit.components.tabular_mlp.TabularMLP"
    assert printed["model"]["init_args"]["hidden_sizes"] == [8]
    [early] = printed["trainer"]["callbacks"]
    assert early["class_path"] == "lightning.pytorch.callbacks.EarlyStopping"
    assert early["init_args"]["monitor"] == "val_loss"


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


# -- installed plugins that are broken, slow or clashing: isolation through the CLI ------------------
IRIS = ("--data", "SklearnDataModule", "--data.dataset", "iris")


def test_broken_and_slow_plugins_change_nothing_for_users_who_do_not_select_them(lightkit, fake_plugins):
    fake_plugins("broken", "slow", "clash")
    result = lightkit(
        "fit",
        "--model",
        "TabularMLP",
        *IRIS,
        "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor=val_loss",
        *FAST,
    )
    assert result.code == 0, result.err
    assert not [m for m in FAKE_MODULES if m in sys.modules]


def test_selecting_a_plugin_that_fails_to_import_is_one_short_message(lightkit, fake_plugins):
    fake_plugins("broken")
    result = lightkit("fit", "--model", "BrokenNet", *IRIS, *FAST)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[0] == (
        "error: model 'BrokenNet' from lightkit-fake-broken 0.1 cannot be loaded: "
        "ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'"
    )
    assert (
        len(lines) == 2 and lines[1].startswith("hint: ") and "pip uninstall lightkit-fake-broken" in lines[1]
    )


def test_a_broken_callback_selected_in_a_config_names_its_distribution(lightkit, fake_plugins, workdir: Path):
    fake_plugins("broken")
    (workdir / "c.yaml").write_text("trainer:\n  callbacks:\n    - class_path: BrokenCallback\n")
    result = lightkit("fit", "--config", "c.yaml", "--model", "TabularMLP", *IRIS, *FAST)
    assert result.code == 2
    assert "callback 'BrokenCallback' from lightkit-fake-broken 0.1 cannot be loaded" in result.err
    assert len(result.err.strip().splitlines()) == 2


def test_a_plugin_of_the_wrong_kind_is_refused_by_name(lightkit, fake_plugins):
    fake_plugins("broken")
    result = lightkit("fit", "--model", "NotAModel", *IRIS, *FAST)
    assert result.code == 2
    assert "lightkit-fake-broken" in result.err and "not a LightningModule subclass" in result.err
    assert len(result.err.strip().splitlines()) == 2


def test_a_name_offered_twice_is_an_error_that_shows_how_to_choose(lightkit, fake_plugins):
    fake_plugins("clash")
    result = lightkit(
        "fit",
        "--model",
        "TwinNet",
        "--data",
        "lightning.pytorch.demos.boring_classes.BoringDataModule",
        *FAST,
    )
    assert result.code == 2
    assert (
        "'TwinNet' (from --model) is registered by 2 distributions: lightkit-clash-a, lightkit-clash-b"
        in result.err
    )
    assert "lightkit_clash_a.TwinNet" in result.err and "lightkit_clash_b.TwinNet" in result.err
    assert len(result.err.strip().splitlines()) == 2


def test_a_full_class_path_always_works_despite_a_clash(lightkit, fake_plugins):
    fake_plugins("clash")
    result = lightkit(
        "fit",
        "--model",
        "lightkit_clash_b.TwinNet",
        "--data",
        "lightning.pytorch.demos.boring_classes.BoringDataModule",
        *FAST,
    )
    assert result.code == 0, result.err
    assert "lightkit_clash_b" in sys.modules and "lightkit_clash_a" not in sys.modules


def test_a_clash_in_a_config_names_the_file(lightkit, fake_plugins, workdir: Path):
    fake_plugins("clash")
    (workdir / "twin.yaml").write_text("model:\n  class_path: TwinNet\n")
    result = lightkit(
        "fit", "--config", "twin.yaml", "--data", "lightning.pytorch.demos.boring_classes.BoringDataModule"
    )
    assert result.code == 2
    assert "twin.yaml" in result.err and "lightkit-clash-a" in result.err and "lightkit-clash-b" in result.err


def test_did_you_mean_includes_installed_plugins(lightkit, fake_plugins):
    fake_plugins("slow")
    result = lightkit("fit", "--model", "SlowNt", *IRIS)
    assert result.code == 2
    assert "did you mean 'SlowNet'" in result.err
    assert len(result.err.strip().splitlines()) <= 3
    assert "lightkit_fake_slow" not in sys.modules
