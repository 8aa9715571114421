"""Every shipped config parses and runs as it is (with fast_dev_run)."""

from __future__ import annotations

import shutil

import pytest

from conftest import CONFIGS, FAST, REPO

import yaml

ALL = sorted(CONFIGS.glob("*.yaml"))
#: training configs; the others are sweep specs (`params:`), run by tests/test_sweep.py
SHIPPED = [p for p in ALL if "params" not in (yaml.safe_load(p.read_text()) or {})]


def test_every_shipped_yaml_is_a_training_config_or_a_sweep_spec():
    for path in ALL:
        data = yaml.safe_load(path.read_text()) or {}
        assert "model" in data or "params" in data, path.name


def test_there_are_shipped_configs():
    assert {p.name for p in SHIPPED} >= {"wine_mlp.yaml", "diabetes_mlp.yaml", "churn_csv.yaml"}


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.name)
def test_config_runs_with_fast_dev_run(lightkit, workdir, config):
    shutil.copytree(REPO / "configs", workdir / "configs")  # configs use repo-relative data paths
    result = lightkit("fit", "--config", f"configs/{config.name}", *FAST)
    assert result.code == 0, result.err


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.name)
def test_print_config_round_trips(lightkit, workdir, config):
    shutil.copytree(REPO / "configs", workdir / "configs")
    first = lightkit("fit", "--config", f"configs/{config.name}", "--print_config")
    assert first.code == 0, first.err
    (workdir / "printed.yaml").write_text(first.out)
    second = lightkit("fit", "--config", "printed.yaml", "--print_config")
    assert second.code == 0, second.err
    assert second.out == first.out
