"""The models learn: the README's main job and the default breast_cancer fit reach their targets."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import CONFIGS


def best_val(run: Path, metric: str) -> float:
    with open(run / "metrics.csv", newline="") as f:
        return max(float(row[metric]) for row in csv.DictReader(f) if row.get(metric))


@pytest.mark.slow
def test_wine_main_job_reaches_val_accuracy_090(lightkit, workdir: Path):
    result = lightkit("fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--run.name", "wine")
    assert result.code == 0, result.err
    assert best_val(workdir / "runs" / "wine", "val_acc") >= 0.9


@pytest.mark.slow
def test_breast_cancer_defaults_match_logistic_regression(lightkit, workdir: Path):
    from lightkit.components.sklearn_data import SklearnDataModule

    fit = lightkit("fit", "--model", "TabularMLP", "--data", "SklearnDataModule",
                   "--data.dataset", "breast_cancer", "--run.name", "bc")
    assert fit.code == 0, fit.err
    test = lightkit("test", "--ckpt_path", "best", "--run.name", "bc")
    assert test.code == 0, test.err
    accuracy = float(next(line for line in test.out.splitlines() if "test_acc" in line).split("│")[2])

    data = SklearnDataModule(dataset="breast_cancer")  # the very same split
    frame, rows = data._labelled(), data._split_rows
    x, y = frame.drop(columns="target"), frame["target"]
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    baseline.fit(x.iloc[rows["train"]], y.iloc[rows["train"]])
    reference = baseline.score(x.iloc[rows["test"]], y.iloc[rows["test"]])
    assert accuracy >= reference - 0.02, (accuracy, reference)
