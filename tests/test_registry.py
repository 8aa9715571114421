"""The registry reads entry-point metadata, resolves short names and loads one plugin at a time."""

from __future__ import annotations

import pytest

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


def test_resolve_target_reads_metadata_only():
    assert registry.resolve_target("models", "TabularMLP") == "lightkit.components.tabular_mlp.TabularMLP"
    assert registry.resolve_target("models", "a.dotted.Path") is None
    assert registry.resolve_target("models", "Nope") is None
