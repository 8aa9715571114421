"""LayerStatsMonitor through the lightkit CLI: on the command line, in a YAML config, and with errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

QUICK = ("--trainer.max_epochs", "1", "--trainer.enable_model_summary", "false")
IRIS = (
    "--model",
    "TabularMLP",
    "--model.hidden_sizes",
    "[8]",
    "--data",
    "SklearnDataModule",
    "--data.dataset",
    "iris",
    "--data.batch_size",
    "16",
)


def logged(run: Path) -> dict[str, list[float]]:
    """Column -> the non-empty values of the run's metrics.csv."""
    with open(run / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(r[key]) for r in rows if r[key] != ""] for key in rows[0]}


def test_statistics_of_every_layer_reach_the_run_logger(lightkit, tmp_path: Path):
    result = lightkit(
        "fit",
        *IRIS,
        "--trainer.callbacks+=LayerStatsMonitor",
        "--trainer.callbacks.every_n_steps",
        "2",
        *QUICK,
        "--run.name",
        "stats",
    )
    assert result.code == 0, result.err
    metrics = logged(tmp_path / "runs" / "stats")
    # TabularMLP with one hidden layer: net.0 Linear, net.1 BatchNorm1d, net.4 Linear (output)
    for layer in ("net.0", "net.1", "net.4"):
        for stat in ("grad_norm", "grad_std", "grad_abs_max", "act_mean", "act_std", "act_zero_fraction"):
            values = metrics[f"layers/{layer}/{stat}"]
            assert values and all(math.isfinite(v) for v in values), (layer, stat)
    assert len(metrics["layers/net.0/grad_norm"]) == 3  # 90 train rows / 16 = 6 steps, logged at 0, 2 and 4
    assert all(v > 0 for v in metrics["layers/net.0/grad_norm"])
    assert all(0.0 <= v <= 1.0 for v in metrics["layers/net.0/act_zero_fraction"])


def test_added_through_a_yaml_config_with_chosen_layer_types(lightkit, tmp_path: Path):
    (tmp_path / "stats.yaml").write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: LayerStatsMonitor\n"
        "      init_args:\n"
        "        every_n_steps: 1\n"
        "        layer_types: [Linear]\n"
        "        activations: false\n"
    )
    result = lightkit("fit", "--config", "stats.yaml", *IRIS, *QUICK, "--run.name", "yaml")
    assert result.code == 0, result.err
    stats = {k for k in logged(tmp_path / "runs" / "yaml") if k.startswith("layers/")}
    assert stats == {
        f"layers/{layer}/{s}"
        for layer in ("net.0", "net.4")
        for s in ("grad_norm", "grad_std", "grad_abs_max")
    }


def test_layer_types_that_match_nothing_name_the_types_there_are(lightkit):
    result = lightkit(
        "fit",
        *IRIS,
        "--trainer.callbacks+=LayerStatsMonitor",
        "--trainer.callbacks.layer_types",
        "[Conv2d]",
        *QUICK,
    )
    assert result.code == 2
    assert "no layer of types ['Conv2d']" in result.err and "Linear" in result.err


def test_every_entry_point_of_the_package_loads_as_the_right_kind(lightkit):
    """What `lightkit plugins check` reports for this distribution: each plugin loads."""
    from lightkit import registry

    mine = [p for p in registry.list_plugins() if p.distribution == "lightkit-diagnostics"]
    assert mine, "lightkit-diagnostics is not installed: pip install it before running its tests"
    for plugin in mine:
        registry.load(plugin)  # raises PluginBroken naming the cause
    shown = lightkit("plugins", "show", mine[0].name)
    assert shown.code == 0 and shown.out.startswith(f"{mine[0].name} (")
