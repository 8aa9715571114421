"""K-fold cross-validation: `lightkit fit --cv.folds K`, the fold protocol, fold-ensemble predict."""

from __future__ import annotations

import csv
import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS
from lightning.pytorch import LightningDataModule

from lightkit.data.folds import fold_split


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_folds_are_disjoint_cover_the_rows_and_keep_class_proportions():
    rows = np.arange(100, 190)
    labels = np.array(["a"] * 60 + ["b"] * 30)
    vals = [fold_split(rows, labels, i, 3, seed=1)[1] for i in range(3)]
    assert sorted(np.concatenate(vals).tolist()) == rows.tolist()
    for i, val in enumerate(vals):
        train = fold_split(rows, labels, i, 3, seed=1)[0]
        assert set(train).isdisjoint(val) and len(train) + len(val) == 90
        assert (labels[val - 100] == "b").sum() == 10  # stratified: a third of each class
    assert not np.array_equal(vals[0], fold_split(rows, labels, 0, 3, seed=2)[1])  # the seed matters


def test_each_fold_refits_preprocessing_on_its_own_train_part():
    from lightkit.components.sklearn_data import SklearnDataModule

    data = SklearnDataModule(dataset="wine")
    frame = data.read_frame()
    tests, vals = [], []
    for index in range(3):
        data.set_fold(index, 3, seed=0)
        pp = data.fit_preprocessor()
        train = frame.iloc[data._split_rows["train"]]
        assert np.allclose(pp.mean, train[pp.numeric].mean().to_numpy())  # fitted on this fold's train rows
        tests.append(data._split_rows["test"].tolist())
        vals.append(set(data._split_rows["val"].tolist()))
        assert data.state_dict()["fold"] == [index, 3, 0]
    assert tests[0] == tests[1] == tests[2]  # the test (predict) rows do not depend on the fold
    assert vals[0].isdisjoint(vals[1]) and vals[1].isdisjoint(vals[2])


def test_kfold_fit_reports_mean_and_std_and_predict_averages_the_folds(lightkit, workdir: Path):
    config = str(CONFIGS / "wine_mlp.yaml")
    fit = lightkit(
        "fit", "--config", config, "--cv.folds", "3", "--trainer.max_epochs", "1", "--run.name", "cv"
    )
    assert fit.code == 0, fit.err
    parent = workdir / "runs" / "cv"
    record = json.loads((parent / "cv.json").read_text())
    assert record["state"] == "finished" and record["folds"] == 3 and record["seed"] == 42
    accuracies = [run["metrics"]["val_acc"] for run in record["runs"]]
    assert record["mean"]["val_acc"] == statistics.fmean(accuracies)
    assert record["std"]["val_acc"] == statistics.stdev(accuracies)
    assert (
        "mean ± std" in fit.out
        and f"{record['mean']['val_acc']:.4f} ± {record['std']['val_acc']:.4f}" in fit.out
    )
    table = read_csv(parent / "cv_metrics.csv")
    assert [r["fold"] for r in table] == ["1", "2", "3", "mean", "std"]
    for fold in ("fold-1", "fold-2", "fold-3"):  # each fold is a normal run directory
        assert (parent / fold / "config.yaml").is_file() and (
            parent / fold / "checkpoints" / "best.ckpt"
        ).is_file()

    predict = lightkit("predict", "--ckpt_path", str(parent))
    assert predict.code == 0, predict.err
    averaged = read_csv(parent / "predictions.csv")
    folds = [read_csv(parent / f"fold-{i}" / "predictions.csv") for i in (1, 2, 3)]
    assert len(averaged) == 36 and all(len(f) == 36 for f in folds)
    for column in ("prob_class_0", "prob_class_1", "prob_class_2"):
        expected = np.mean([[float(r[column]) for r in f] for f in folds], axis=0)
        assert np.allclose([float(r[column]) for r in averaged], expected, atol=1e-6)
    best = [max((0, 1, 2), key=lambda i: float(r[f"prob_class_{i}"])) for r in averaged]
    assert [r["prediction"] for r in averaged] == [f"class_{i}" for i in best]

    test = lightkit("test", "--ckpt_path", str(parent))
    assert test.code == 2 and "fold-1" in test.err

    # a fold's checkpoint carries its fold: validating it reproduces the recorded metrics
    validate = lightkit("validate", "--ckpt_path", str(parent / "fold-2"))
    assert validate.code == 0, validate.err
    printed = re.search(r"val_loss\W+([0-9.]+)", validate.out)
    assert printed is not None, validate.out
    assert float(printed.group(1)) == pytest.approx(record["runs"][1]["metrics"]["val_loss"], abs=1e-6)


class NoFolds(LightningDataModule):
    """A data module that does not implement the fold protocol."""

    def __init__(self, size: int = 8) -> None:
        super().__init__()


def test_data_module_without_the_fold_protocol_is_a_clear_error(lightkit):
    result = lightkit("fit", "--model", "TabularMLP", "--data", "test_cv.NoFolds", "--cv.folds", "2")
    assert result.code == 2
    assert "NoFolds cannot be cross-validated" in result.err and "set_fold" in result.err


def test_bad_cv_options_are_usage_errors(lightkit):
    assert "at least 2" in lightkit("fit", "--cv.folds", "1").err
    result = lightkit("fit", "--cv.fold", "3")
    assert result.code == 2 and "--cv.folds K" in result.err
    assert lightkit("fit", "--cv.folds", "three").code == 2
