"""Every component of lightkit-tagging passes lightkit's conformance kit (lightkit.testing).

The kit checks the entry point, typed and documented arguments, fit/validate/predict with
fast_dev_run, the --print_config round trip, predictions from a checkpoint, and the import time.
"""

from __future__ import annotations

from lightkit.testing import check_plugin


def test_tagging_mlp_passes_the_kit():
    check_plugin("TaggingMLP", data="TagTableDataModule")


def test_tag_table_data_module_passes_the_kit():
    check_plugin("TagTableDataModule", model="TaggingMLP")
