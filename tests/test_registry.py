"""The registry reads entry-point metadata, resolves short names and loads one plugin at a time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import FAKE_MODULES

from lightkit import registry
from lightkit.errors import PluginBroken, PluginCollision, PluginNotFound
from lightkit.registry import Plugin


def fake(name: str, kind: str, target: str, dist: str = "somepkg") -> Plugin:
    return Plugin(name=name, kind=kind, target=target, distribution=dist, version="1.0")


@pytest.fixture
def extra_plugins(monkeypatch: pytest.MonkeyPatch):
    def install(*plugins: Plugin) -> None:
        real = registry._all_plugins()
        monkeypatch.setattr(registry, "_all_plugins", lambda: (*real, *plugins))

    return install


def test_builtins_register_through_entry_points():
    names = {(p.kind, p.name) for p in registry.list_plugins()}
    assert ("models", "TabularMLP") in names
    assert ("datamodules", "CSVDataModule") in names
    assert ("datamodules", "SklearnDataModule") in names
    assert ("callbacks", "PredictionWriter") in names
    builtin = registry.find("models", "TabularMLP")
    assert builtin.distribution == "lightkit"
    assert builtin.class_path == "lightkit.components.tabular_mlp.TabularMLP"


def test_unknown_name_suggests_closest():
    with pytest.raises(PluginNotFound) as info:
        registry.find("models", "TabularMPL", source="--model")
    assert "'TabularMPL'" in info.value.message and "--model" in info.value.message
    assert "TabularMLP" in info.value.hint


def test_name_offered_by_two_distributions_is_an_error_naming_both(extra_plugins):
    extra_plugins(fake("TabularMLP", "models", "other_pkg.models:TabularMLP", dist="other-pkg"))
    with pytest.raises(PluginCollision) as info:
        registry.find("models", "TabularMLP")
    assert "lightkit" in info.value.message and "other-pkg" in info.value.message
    assert "other_pkg.models.TabularMLP" in info.value.hint


def test_broken_plugin_names_its_distribution_and_cause(extra_plugins):
    broken = fake("Broken", "models", "no_such_module_xyz:Model", dist="broken-dist")
    extra_plugins(broken)
    with pytest.raises(PluginBroken) as info:
        registry.load(broken)
    assert "broken-dist" in info.value.message and "ModuleNotFoundError" in info.value.message


def test_plugin_of_the_wrong_kind_is_refused(extra_plugins):
    wrong = fake("NotAModel", "models", "collections:OrderedDict")
    extra_plugins(wrong)
    with pytest.raises(PluginBroken, match="not a LightningModule subclass"):
        registry.load(wrong)


def test_resolve_target_reads_metadata_only(fake_plugins):
    fake_plugins("slow")
    assert registry.resolve_target("models", "TabularMLP") == "lightkit.components.tabular_mlp.TabularMLP"
    assert registry.resolve_target("models", "SlowNet") == "lightkit_fake_slow.SlowNet"
    assert "lightkit_fake_slow" not in sys.modules  # named from its entry point, never imported
    assert registry.resolve_target("models", "a.dotted.Path") is None
    assert registry.resolve_target("models", "Nope") is None


# -- real (fake) distributions on sys.path: discovery reads their metadata and nothing else ----------


def test_discovery_names_distribution_and_version_without_importing(fake_plugins):
    fake_plugins("broken", "slow", "clash")
    found = {(p.kind, p.name, p.distribution, p.version) for p in registry.list_plugins()}
    assert ("models", "SlowNet", "lightkit-fake-slow", "0.1") in found
    assert ("callbacks", "BrokenCallback", "lightkit-fake-broken", "0.1") in found
    assert ("models", "TwinNet", "lightkit-clash-b", "2.0") in found
    assert not any(m in sys.modules for m in FAKE_MODULES)


def test_models_are_listed_first_then_data_then_callbacks(fake_plugins):
    fake_plugins("broken")
    kinds = [p.kind for p in registry.list_plugins()]
    assert kinds == sorted(kinds, key=["models", "datamodules", "callbacks"].index)


def test_collisions_are_reported_per_kind_and_name(fake_plugins):
    fake_plugins("clash")
    clashes = registry.collisions()
    assert list(clashes) == [("models", "TwinNet")]
    assert {p.distribution for p in clashes["models", "TwinNet"]} == {"lightkit-clash-a", "lightkit-clash-b"}
    assert registry.collisions("callbacks") == {}


def test_loading_one_plugin_imports_only_its_module(fake_plugins):
    fake_plugins("broken", "slow", "clash")
    registry.load(registry.find("models", "TabularMLP"))
    assert not any(m in sys.modules for m in FAKE_MODULES)
    with pytest.raises(PluginBroken) as info:
        registry.load(registry.find("models", "BrokenNet"))
    assert "lightkit-fake-broken 0.1" in info.value.message
    assert "No module named 'a_dependency_that_is_not_installed'" in info.value.message
    assert "lightkit_fake_slow" not in sys.modules


def test_a_plugin_that_exits_on_import_is_contained(extra_plugins, tmp_path: Path, monkeypatch):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit('cannot run here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = fake("Quitter", "models", "exits_on_import:Model", dist="quitter")
    extra_plugins(plugin)
    with pytest.raises(PluginBroken, match="quitter 1.0 cannot be loaded: SystemExit: cannot run here"):
        registry.load(plugin)
