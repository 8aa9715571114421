"""Every component of lightkit-vision passes lightkit's conformance kit (lightkit.testing).

The kit checks the entry point, typed and documented arguments, fit/validate/predict with
fast_dev_run, the --print_config round trip, predictions from a checkpoint, and the import time.
"""

from __future__ import annotations

from pathlib import Path

from lightkit.testing import check_plugin
from test_vision import make_image_folder


def test_small_cnn_passes_the_kit():
    check_plugin("SmallCNN", data="DigitsDataModule")


def test_digits_data_module_passes_the_kit():
    check_plugin("DigitsDataModule", model="SmallCNN")


def test_image_folder_data_module_passes_the_kit(tmp_path: Path):
    images = make_image_folder(tmp_path / "images")
    folder = ["--data.root", str(images), "--data.image_size", "[12, 12]", "--data.batch_size", "4"]
    check_plugin("ImageFolderDataModule", model="SmallCNN", args=folder)
