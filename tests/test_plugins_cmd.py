"""`lightkit plugins list | show | check`: what is installed, what it takes, and whether it loads."""

from __future__ import annotations

import json
import sys

from conftest import FAKE_MODULES

BUILTINS = {"TabularMLP", "CSVDataModule", "SklearnDataModule", "PredictionWriter"}


def table_rows(out: str) -> dict[str, list[str]]:
    """First cell -> cells, for each line of a printed table."""
    return {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}


# -- list -------------------------------------------------------------------------------------------------
def test_list_prints_name_kind_distribution_version_and_target(lightkit, fake_plugins):
    fake_plugins("slow")
    result = lightkit("plugins", "list")
    assert result.code == 0, result.err
    rows = table_rows(result.out)
    assert rows["name"] == ["name", "kind", "distribution", "version", "target"]
    assert rows["SlowNet"] == ["SlowNet", "models", "lightkit-fake-slow", "0.1", "lightkit_fake_slow:SlowNet"]
    assert rows["TabularMLP"][:3] == ["TabularMLP", "models", "lightkit"]
    assert "lightkit_fake_slow" not in sys.modules


def test_list_is_the_default_plugins_command(lightkit):
    assert lightkit("plugins").out == lightkit("plugins", "list").out


def test_list_json_gives_the_same_fields_for_scripts(lightkit, fake_plugins):
    fake_plugins("broken")
    entries = json.loads(lightkit("plugins", "list", "--json").out)
    assert all(list(e) == ["name", "kind", "distribution", "version", "target"] for e in entries)
    assert {
        "name": "BrokenCallback",
        "kind": "callbacks",
        "distribution": "lightkit-fake-broken",
        "version": "0.1",
        "target": "lightkit_fake_broken:BrokenCallback",
    } in entries
    assert BUILTINS <= {e["name"] for e in entries}


def test_list_names_of_one_kind(lightkit, fake_plugins):
    fake_plugins("clash")
    names = lightkit("plugins", "list", "--names", "--kind", "models").out.split()
    assert "TabularMLP" in names and names.count("TwinNet") == 1
    assert "SklearnDataModule" not in names


def test_list_marks_a_clashing_name_and_says_how_to_choose(lightkit, fake_plugins):
    fake_plugins("clash")
    out = lightkit("plugins", "list").out
    assert "TwinNet *" in out
    assert (
        "* model 'TwinNet' is offered by 2 distributions; select it by full class path: "
        "lightkit_clash_a.TwinNet or lightkit_clash_b.TwinNet"
    ) in out


def test_unknown_plugins_command_suggests_the_closest(lightkit):
    result = lightkit("plugins", "lst")
    assert result.code == 2
    assert "unknown plugins command 'lst'" in result.err and "did you mean 'list'" in result.err


# -- show -------------------------------------------------------------------------------------------------
def test_show_prints_docstring_and_every_hyperparameter(lightkit, fake_plugins):
    fake_plugins("broken", "slow")
    result = lightkit("plugins", "show", "TabularMLP")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("TabularMLP (model, lightkit ")
    assert "use:    --model TabularMLP" in out
    assert "A multilayer perceptron for tabular classification and regression." in out
    assert "Args:" not in out  # the arguments are in the table instead
    rows = table_rows(out)
    assert rows["hidden_sizes"][:3] == ["hidden_sizes", "list[int]", "[128,"]
    assert "Width of each hidden layer, input side first." in " ".join(rows["hidden_sizes"])
    assert rows["lr"][:3] == ["lr", "float", "0.003"]
    assert rows["num_features"][:3] == ["num_features", "int", "|"]  # int | None
    assert "Set from the data module." in " ".join(rows["num_features"])
    assert not [m for m in FAKE_MODULES if m in sys.modules]  # only the plugin asked about is imported


def test_show_a_callback_says_how_to_add_it(lightkit):
    out = lightkit("plugins", "show", "PredictionWriter").out
    assert "use:    --trainer.callbacks+=PredictionWriter" in out
    assert "output_path" in out


def test_show_unknown_name_suggests_registered_ones(lightkit):
    result = lightkit("plugins", "show", "TabularMPL")
    assert result.code == 2
    assert (
        "no plugin is registered as 'TabularMPL'" in result.err and "did you mean 'TabularMLP'" in result.err
    )


def test_show_a_broken_plugin_is_one_short_message(lightkit, fake_plugins):
    fake_plugins("broken")
    result = lightkit("plugins", "show", "BrokenNet")
    assert result.code == 2
    assert result.err.startswith("error: model 'BrokenNet' from lightkit-fake-broken 0.1 cannot be loaded")
    assert len(result.err.strip().splitlines()) == 2


def test_show_a_clashing_name_names_both_and_a_full_path_shows_one(lightkit, fake_plugins):
    fake_plugins("clash")
    clash = lightkit("plugins", "show", "TwinNet")
    assert clash.code == 2 and "lightkit-clash-a" in clash.err and "lightkit-clash-b" in clash.err
    one = lightkit("plugins", "show", "lightkit_clash_b.TwinNet")
    assert one.code == 0, one.err
    assert one.out.startswith("TwinNet (model, lightkit-clash-b 2.0)")
    assert "The TwinNet of lightkit-clash-b." in one.out
    assert "lightkit_clash_a" not in sys.modules


# -- check ------------------------------------------------------------------------------------------------
def test_check_reports_each_plugin_and_fails_when_one_is_broken(lightkit, fake_plugins):
    fake_plugins("broken", "clash")
    result = lightkit("plugins", "check")
    assert result.code == 1
    rows = table_rows(result.out)
    assert rows["TabularMLP"][4] == "ok" and rows["SklearnDataModule"][4] == "ok"
    assert rows["BrokenNet"][4] == "broken" and "ModuleNotFoundError" in " ".join(rows["BrokenNet"])
    assert rows["NotAModel"][4] == "broken" and "not a LightningModule subclass" in " ".join(
        rows["NotAModel"]
    )
    assert rows["BrokenCallback"][4] == "broken"
    assert "clash" in rows["TwinNet"]
    assert "5 of 9 plugins have problems; the others work." in result.out


def test_check_json_and_success(lightkit, fake_plugins):
    ok = lightkit("plugins", "check", "--json")
    assert ok.code == 0
    assert {e["name"]: e["status"] for e in json.loads(ok.out)} == dict.fromkeys(BUILTINS, "ok")
    fake_plugins("broken")
    broken = lightkit("plugins", "check", "--json")
    assert broken.code == 1
    by_name = {e["name"]: e for e in json.loads(broken.out)}
    assert (
        by_name["BrokenNet"]["status"] == "broken"
        and by_name["BrokenNet"]["distribution"] == "lightkit-fake-broken"
    )
    assert by_name["BrokenNet"]["detail"] == (
        "cannot be loaded: ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'"
    )
