"""CSVDataModule: preprocessing fitted on the train split only, categories, predicting without a target."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightkit.components.csv_data import CSVDataModule
from lightkit.errors import DataError

from conftest import CONFIGS, TINY


def write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "size": rng.normal(10.0, 2.0, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["yes", "no"], n),
        }
    )
    return write(tmp_path / "table.csv", frame)


def test_standardisation_is_fitted_on_the_train_split_only(table: Path):
    data = CSVDataModule(path=str(table), target="label", id_column="id", seed=3)
    pp = data.fit_preprocessor()
    frame = pd.read_csv(table)
    train = frame.iloc[data._split_rows["train"]]
    assert pp.mean[0] == pytest.approx(train["size"].mean(), rel=1e-6)
    assert pp.mean[0] != pytest.approx(frame["size"].mean(), rel=1e-9)
    assert set(data._split_rows["train"]).isdisjoint(data._split_rows["val"])


def test_categorical_columns_are_one_hot_with_an_unknown_slot(table: Path):
    data = CSVDataModule(path=str(table), target="label", id_column="id")
    shape = data.data_shape
    assert shape["task"] == "binary" and shape["num_outputs"] == 1
    assert shape["num_features"] == 1 + 4  # size + (unknown, blue, green, red)
    data.setup("fit")
    x = data._splits["train"]["x"]
    assert x[:, 1:].sum(dim=1).eq(1).all()


def test_embedding_encoding_passes_category_indices(table: Path):
    data = CSVDataModule(path=str(table), target="label", categorical_encoding="embedding", id_column="id")
    assert data.data_shape["category_sizes"] == [4]
    data.setup("fit")
    assert data._splits["train"]["x_cat"].dtype.is_floating_point is False


def test_predict_without_target_column_and_with_unseen_category(table: Path, tmp_path: Path):
    trained = CSVDataModule(path=str(table), target="label", id_column="id")
    trained.fit_preprocessor()
    state = trained.state_dict()
    new = pd.DataFrame({"id": ["a", "b"], "size": [10.0, 12.0], "colour": ["red", "purple"]})
    fresh = CSVDataModule(path=str(write(tmp_path / "new.csv", new)), target="label", id_column="id")
    fresh.load_state_dict(state)
    with pytest.warns(UserWarning, match="purple"):
        fresh.setup("predict")
    x = fresh._splits["predict"]["x"]
    assert fresh.predict_ids == ["a", "b"]
    assert x[1, 1:].tolist() == [1.0, 0.0, 0.0, 0.0]  # unseen -> the unknown slot
    expected = (np.array([10.0, 12.0]) - trained.preprocessor.mean[0]) / trained.preprocessor.std[0]
    assert np.allclose(x[:, 0].numpy(), expected, atol=1e-5)


def test_non_numeric_value_names_line_and_column(tmp_path: Path):
    rows = [{"a": str(i), "y": i % 2} for i in range(30)]
    rows[7]["a"] = "oops"
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["a", "y"])
        writer.writeheader()
        writer.writerows(rows)
    data = CSVDataModule(path=str(path), target="y")
    with pytest.raises(DataError, match=r"'oops' in numeric column 'a' at line 9"):
        data.setup("fit")


def test_csv_fit_then_predict_on_a_new_file_with_nothing_retyped(lightkit, workdir: Path):
    fit = lightkit("fit", "--config", str(CONFIGS / "churn_csv.yaml"), "--data.path",
                   str(CONFIGS / "data" / "churn.csv"), *TINY, "--run.name", "churn")
    assert fit.code == 0, fit.err
    predict = lightkit("predict", "--ckpt_path", "runs/churn", "--data.path", str(CONFIGS / "data" / "churn_new.csv"))
    assert predict.code == 0, predict.err
    assert "data.path" in predict.err  # the change against the checkpoint is shown
    out = pd.read_csv(workdir / "runs" / "churn" / "predictions.csv")
    assert len(out) == 40 and out["customer_id"].iloc[0] == "C10000"
    assert set(out.columns) == {"customer_id", "prediction", "prob_0", "prob_1"}
