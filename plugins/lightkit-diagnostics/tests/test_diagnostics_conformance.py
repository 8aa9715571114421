"""LayerStatsMonitor passes lightkit's conformance kit (lightkit.testing), with lightkit's own
TabularMLP and SklearnDataModule: this package depends on nothing but lightkit.

The kit checks the entry point, typed and documented arguments, fit/validate/predict with
fast_dev_run, the --print_config round trip, predictions from a checkpoint, and the import time.
"""

from __future__ import annotations

from lightkit.testing import check_plugin


def test_layer_stats_monitor_passes_the_kit():
    check_plugin("LayerStatsMonitor", model="TabularMLP", data="SklearnDataModule")
