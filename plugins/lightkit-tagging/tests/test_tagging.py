"""lightkit-tagging through the lightkit CLI, as a user runs it after `pip install`."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

QUICK = ("--trainer.max_epochs", "1", "--trainer.enable_model_summary", "false")
SMALL = ("--data.synthetic_rows", "200", "--data.batch_size", "32")
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_tagged_csv(path: Path, rows: int = 120, seed: int = 0) -> None:
    """Items with three numeric features and two tags that depend on them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    frame = pd.DataFrame(x, columns=["length", "score", "age"])
    frame.insert(0, "item", [f"item{i}" for i in range(rows)])
    frame["sports"] = (x[:, 0] > 0).astype(int)
    frame["politics"] = (x[:, 1] + x[:, 2] > 0).astype(int)
    frame.to_csv(path, index=False)


def test_trains_on_the_embedded_default_data_and_logs_per_tag_metrics(lightkit, tmp_path: Path):
    result = lightkit(
        "fit", "--model", "TaggingMLP", "--data", "TagTableDataModule", *SMALL, *QUICK, "--run.name", "tags"
    )
    assert result.code == 0, result.err
    run = tmp_path / "runs" / "tags"
    assert (run / "checkpoints" / "best.ckpt").is_file()
    columns = set(read_csv(run / "metrics.csv")[0])
    assert {"val_f1_macro", "val_auroc_macro", "val_loss"} <= columns
    assert {f"val_f1/tag_{i}" for i in range(5)} <= columns
    assert {f"val_auroc/tag_{i}" for i in range(5)} <= columns


def test_batches_are_dicts_of_features_and_multi_hot_tags():
    from lightkit_tagging.data import TagTableDataModule

    data = TagTableDataModule(synthetic_rows=100, synthetic_features=6, synthetic_tags=4, batch_size=16)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert set(batch) == {"X", "y"}
    assert batch["X"].shape == (16, 6) and batch["y"].shape == (16, 4)
    assert set(batch["y"].unique().tolist()) <= {0.0, 1.0}
    assert data.data_shape == {"task": "multilabel", "num_features": 6, "num_outputs": 4}


def test_csv_tags_train_then_predict_new_rows_with_a_chosen_threshold(lightkit, tmp_path: Path):
    write_tagged_csv(tmp_path / "items.csv")
    fit = lightkit(
        "fit",
        "--model",
        "TaggingMLP",
        "--data",
        "TagTableDataModule",
        "--data.path",
        "items.csv",
        "--data.tags",
        "[sports, politics]",
        "--data.id_column",
        "item",
        *QUICK,
        "--run.name",
        "csv",
    )
    assert fit.code == 0, fit.err
    assert {"val_f1/sports", "val_auroc/politics"} <= set(read_csv(tmp_path / "runs/csv/metrics.csv")[0])

    new = pd.read_csv(tmp_path / "items.csv").drop(columns=["sports", "politics"]).head(10)
    new.to_csv(tmp_path / "new.csv", index=False)
    predict = lightkit("predict", "--ckpt_path", "best", "--data.path", "new.csv", "--model.threshold", "0.3")
    assert predict.code == 0, predict.err
    rows = read_csv(tmp_path / "runs/csv/predictions.csv")
    assert [r["item"] for r in rows] == [f"item{i}" for i in range(10)]
    assert list(rows[0]) == ["item", "sports", "politics", "prob_sports", "prob_politics"]
    for row in rows:
        for tag in ("sports", "politics"):
            prob = float(row[f"prob_{tag}"])
            assert 0.0 <= prob <= 1.0 and not math.isnan(prob)
            assert row[tag] == str(int(prob >= 0.3))


def test_a_tag_column_that_is_not_zero_or_one_is_a_short_error(lightkit, tmp_path: Path):
    write_tagged_csv(tmp_path / "items.csv")
    frame = pd.read_csv(tmp_path / "items.csv")
    frame.loc[4, "sports"] = 2
    frame.to_csv(tmp_path / "items.csv", index=False)
    result = lightkit(
        "fit",
        "--model",
        "TaggingMLP",
        "--data",
        "TagTableDataModule",
        "--data.path",
        "items.csv",
        "--data.tags",
        "[sports, politics]",
        "--data.id_column",
        "item",
        *QUICK,
    )
    assert result.code == 1
    assert "tag column 'sports'" in result.err and "line 6" in result.err
    assert "Traceback" not in result.err, result.err


@pytest.mark.parametrize("threshold", ["0", "1.5"])
def test_threshold_outside_zero_one_is_refused(lightkit, threshold: str):
    result = lightkit(
        "fit",
        "--model",
        "TaggingMLP",
        "--data",
        "TagTableDataModule",
        *SMALL,
        *QUICK,
        "--model.threshold",
        threshold,
    )
    assert result.code == 2
    assert "model.threshold must be between 0 and 1" in result.err


def test_every_entry_point_of_the_package_loads_as_the_right_kind(lightkit):
    """What `lightkit plugins check` reports for this distribution: each plugin loads."""
    from lightkit import registry

    mine = [p for p in registry.list_plugins() if p.distribution == "lightkit-tagging"]
    assert mine, "lightkit-tagging is not installed: pip install it before running its tests"
    for plugin in mine:
        registry.load(plugin)  # raises PluginBroken naming the cause
    shown = lightkit("plugins", "show", mine[0].name)
    assert shown.code == 0 and shown.out.startswith(f"{mine[0].name} (")


def test_the_example_config_reads_tag_prefixed_columns(lightkit, tmp_path: Path):
    write_tagged_csv(tmp_path / "items.csv")
    frame = pd.read_csv(tmp_path / "items.csv").rename(
        columns={"sports": "tag_sports", "politics": "tag_politics"}
    )
    frame.drop(columns=["item"]).to_csv(tmp_path / "items.csv", index=False)
    result = lightkit(
        "fit",
        "--config",
        str(CONFIGS / "tags_csv.yaml"),
        "--data.path",
        "items.csv",
        *QUICK,
        "--run.name",
        "example",
    )
    assert result.code == 0, result.err
    assert {"val_f1/tag_sports", "val_f1/tag_politics"} <= set(
        read_csv(tmp_path / "runs/example/metrics.csv")[0]
    )
