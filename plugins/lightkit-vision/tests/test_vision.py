"""lightkit-vision through the lightkit CLI, as a user runs it after `pip install`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

QUICK = ("--trainer.max_epochs", "1", "--trainer.enable_model_summary", "false")
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def make_image_folder(root: Path, per_class: int = 6) -> Path:
    """Bright and dark images of mixed sizes and modes, one subfolder per class."""
    rng = np.random.default_rng(0)
    for name, level in (("bright", 220), ("dark", 30)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (10 + i, 12 + 2 * i)
            pixels = np.clip(level + rng.normal(0, 10, size=(*size, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels, "RGB")
            if i % 3 == 1:
                image = image.convert("L")
            elif i % 3 == 2:
                image = image.convert("RGBA")
            image.save(root / name / f"{name}{i}.{'jpg' if image.mode == 'RGB' else 'png'}")
    return root


def test_small_cnn_trains_on_digits_and_predicts_the_test_split(lightkit, tmp_path: Path):
    fit = lightkit(
        "fit",
        "--config",
        str(CONFIGS / "digits_cnn.yaml"),
        "--model.channels",
        "[8, 16]",
        "--trainer.limit_train_batches",
        "5",
        *QUICK,
        "--run.name",
        "digits",
    )
    assert fit.code == 0, fit.err
    run = tmp_path / "runs" / "digits"
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert {"val_acc", "val_f1", "val_loss"} <= set(read_csv(run / "metrics.csv")[0])

    predict = lightkit("predict", "--ckpt_path", "best")
    assert predict.code == 0, predict.err
    rows = read_csv(run / "predictions.csv")
    assert len(rows) == 360  # 20% of 1,797 images
    assert list(rows[0]) == ["image", "prediction", *(f"prob_{d}" for d in range(10))]
    assert abs(sum(float(rows[0][f"prob_{d}"]) for d in range(10)) - 1.0) < 1e-5


def test_digits_shape_reaches_the_model():
    from lightkit_vision.digits import DigitsDataModule

    data = DigitsDataModule(batch_size=16)
    assert data.data_shape == {"task": "multiclass", "num_outputs": 10, "input_shape": [1, 8, 8]}
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert set(batch) == {"x", "y"} and batch["x"].shape == (16, 1, 8, 8)


def test_image_folder_trains_then_predicts_a_folder_of_new_images(lightkit, tmp_path: Path):
    make_image_folder(tmp_path / "images")
    new = tmp_path / "new"
    make_image_folder(new, per_class=2)
    fit = lightkit(
        "fit",
        "--model",
        "SmallCNN",
        "--data",
        "ImageFolderDataModule",
        "--data.root",
        "images",
        "--data.image_size",
        "[12, 12]",
        "--data.batch_size",
        "4",
        "--data.val_fraction",
        "0.25",
        "--data.test_fraction",
        "0.25",
        *QUICK,
        "--run.name",
        "folder",
    )
    assert fit.code == 0, fit.err

    predict = lightkit("predict", "--ckpt_path", "best", "--data.predict_root", "new")
    assert predict.code == 0, predict.err
    rows = read_csv(tmp_path / "runs/folder/predictions.csv")
    assert sorted(r["image"] for r in rows) == sorted(str(p.relative_to(new)) for p in new.rglob("*.*"))
    assert list(rows[0]) == ["image", "prediction", "prob_bright", "prob_dark"]
    assert {r["prediction"] for r in rows} <= {"bright", "dark"}


def test_image_folder_shape_follows_size_and_channels(tmp_path: Path):
    from lightkit_vision.folder import ImageFolderDataModule

    make_image_folder(tmp_path / "images")
    grey = ImageFolderDataModule(str(tmp_path / "images"), image_size=[6, 9], grayscale=True)
    assert grey.data_shape == {"task": "multiclass", "num_outputs": 2, "input_shape": [1, 6, 9]}
    assert grey.classes == ["bright", "dark"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "image folder 'images' (from data.root) not found"),
        ("flat", "has no class subfolders"),
        ("empty_class", "has no images"),
        ("corrupt", "cannot be read"),
    ],
)
def test_unusable_image_folders_are_short_errors(lightkit, tmp_path: Path, setup: str, message: str):
    if setup != "missing":
        make_image_folder(tmp_path / "images")
    if setup == "flat":
        for path in list((tmp_path / "images").rglob("*.*")):
            path.rename(tmp_path / "images" / path.name)
        for folder in ("bright", "dark"):
            (tmp_path / "images" / folder).rmdir()
    elif setup == "empty_class":
        (tmp_path / "images" / "grey").mkdir()
    elif setup == "corrupt":
        (tmp_path / "images" / "dark" / "broken.png").write_bytes(b"not an image")
    result = lightkit(
        "fit", "--model", "SmallCNN", "--data", "ImageFolderDataModule", "--data.root", "images", *QUICK
    )
    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) <= 4


def test_every_entry_point_of_the_package_loads_as_the_right_kind(lightkit):
    """What `lightkit plugins check` reports for this distribution: each plugin loads."""
    from lightkit import registry

    mine = [p for p in registry.list_plugins() if p.distribution == "lightkit-vision"]
    assert mine, "lightkit-vision is not installed: pip install it before running its tests"
    for plugin in mine:
        registry.load(plugin)  # raises PluginBroken naming the cause
    shown = lightkit("plugins", "show", mine[0].name)
    assert shown.code == 0 and shown.out.startswith(f"{mine[0].name} (")
