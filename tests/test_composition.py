"""Config composition: files merge left to right, then flags; provenance names file and line."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import CONFIGS

WINE = str(CONFIGS / "wine_mlp.yaml")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def printed(result) -> dict:
    assert result.code == 0, result.err
    return yaml.safe_load(result.out)


def test_later_files_override_earlier_ones_and_flags_override_files(lightkit, workdir: Path):
    b = write(workdir / "b.yaml", "trainer:\n  max_epochs: 7\nmodel:\n  init_args:\n    lr: 0.5\n")
    config = printed(lightkit("fit", "--config", WINE, "--config", b, "--model.lr", "0.25", "--print_config"))
    assert config["trainer"]["max_epochs"] == 7  # b.yaml over wine_mlp.yaml
    assert config["model"]["init_args"]["lr"] == 0.25  # the flag over b.yaml
    assert config["model"]["init_args"]["hidden_sizes"] == [64, 32]  # untouched keys survive


def test_sources_name_the_file_and_line_of_each_override(lightkit, workdir: Path):
    b = write(workdir / "b.yaml", "trainer:\n  max_epochs: 7\nmodel:\n  init_args:\n    lr: 0.5\n")
    result = lightkit("fit", "--config", WINE, "--config", b, "--model.dropout", "0.3", "--print_config=sources")
    assert result.code == 0, result.err
    rows = {line.split()[0]: line.split()[-1] for line in result.out.splitlines()[1:]}
    assert rows["trainer.max_epochs"] == f"{b}:2"
    assert rows["model.lr"] == f"{b}:5"
    assert rows["model.dropout"] == "--model.dropout"
    assert rows["model.hidden_sizes"] == f"{WINE}:11"
    assert rows["trainer.min_epochs"] == "default"


def test_sources_skip_default_lists_only_what_was_set(lightkit):
    result = lightkit("fit", "--config", WINE, "--print_config=sources,skip_default")
    assert result.code == 0, result.err
    assert "default" not in result.out.split()
    assert "trainer.max_epochs" in result.out


def test_callbacks_append_in_yaml_and_remove_by_name(lightkit, workdir: Path):
    first = write(workdir / "c1.yaml", "trainer:\n  callbacks:\n    - class_path: EarlyStopping\n"
                  "      init_args:\n        monitor: val_loss\n")
    second = write(workdir / "c2.yaml", "trainer:\n  callbacks+:\n    - class_path: LearningRateMonitor\n")
    both = printed(lightkit("fit", "--config", WINE, "--config", first, "--config", second, "--print_config"))
    assert [c["class_path"].rsplit(".", 1)[1] for c in both["trainer"]["callbacks"]] == [
        "EarlyStopping", "LearningRateMonitor"]
    removed = printed(lightkit("fit", "--config", WINE, "--config", first, "--config", second,
                               "--trainer.callbacks-=EarlyStopping", "--print_config"))
    assert [c["class_path"].rsplit(".", 1)[1] for c in removed["trainer"]["callbacks"]] == ["LearningRateMonitor"]


def test_removing_a_callback_that_is_not_there_says_what_is(lightkit):
    result = lightkit("fit", "--config", WINE, "--trainer.callbacks+=EarlyStopping",
                      "--trainer.callbacks.monitor=val_loss", "--trainer.callbacks-=ModelSummary", "--print_config")
    assert result.code == 2
    assert "'ModelSummary'" in result.err and "EarlyStopping" in result.err


def test_printed_config_is_plain_yaml_when_piped(lightkit):
    result = lightkit("fit", "--config", WINE, "--print_config")
    assert "\x1b[" not in result.out
    assert yaml.safe_load(result.out)["data"]["init_args"]["dataset"] == "wine"


def test_unknown_print_config_flag_lists_the_valid_ones(lightkit):
    result = lightkit("fit", "--config", WINE, "--print_config=source")
    assert result.code == 2
    assert "'source'" in result.err and "did you mean 'sources'" in result.err
    assert "Traceback" not in result.err
