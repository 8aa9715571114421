"""fit -> checkpoint -> predict, end to end, on scikit-learn data."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from conftest import CONFIGS, TINY


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_fit_writes_a_run_directory_and_predict_reads_it(lightkit, workdir: Path):
    fit = lightkit("fit", "--config", str(CONFIGS / "wine_mlp.yaml"), *TINY, "--run.name", "wine")
    assert fit.code == 0, fit.err
    run = workdir / "runs" / "wine"
    assert (run / "config.yaml").is_file() and (run / "versions.json").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "metrics.csv").is_file() and (run / "tensorboard").is_dir()

    predict = lightkit("predict", "--ckpt_path", str(run / "checkpoints" / "best.ckpt"))
    assert predict.code == 0, predict.err
    rows = read_csv(run / "predictions.csv")
    assert len(rows) == 36  # wine has 178 rows; 20% are the test split
    assert set(rows[0]) == {"row", "prediction", "prob_class_0", "prob_class_1", "prob_class_2"}
    total = sum(float(rows[0][f"prob_class_{i}"]) for i in range(3))
    assert abs(total - 1.0) < 1e-5


def test_predictions_equal_the_in_memory_model(lightkit, workdir: Path):
    from lightkit.checkpoints import load_checkpoint
    from lightkit.components.sklearn_data import SklearnDataModule
    from lightkit.components.tabular_mlp import TabularMLP

    assert lightkit("fit", "--config", str(CONFIGS / "diabetes_mlp.yaml"), *TINY, "--run.name", "d").code == 0
    ckpt = workdir / "runs" / "d" / "checkpoints" / "best.ckpt"
    assert lightkit("predict", "--ckpt_path", str(workdir / "runs" / "d"), "--run.output", "out.csv").code == 0
    rows = read_csv(workdir / "out.csv")

    checkpoint = load_checkpoint(ckpt)
    model = TabularMLP.load_from_checkpoint(ckpt, weights_only=True)
    model.eval()
    data = SklearnDataModule(dataset="diabetes")
    data.load_state_dict(checkpoint["SklearnDataModule"])
    data.setup("predict")
    batch = next(iter(data.predict_dataloader()))
    with torch.no_grad():
        expected = model.predict_step(batch, 0).reshape(-1)
    got = torch.tensor([float(r["target"]) for r in rows[: len(expected)]])
    assert torch.allclose(got, expected.double().float(), atol=1e-4)
    assert [int(r["row"]) for r in rows] == data.predict_ids


def test_best_and_last_resolve_to_the_latest_run(lightkit, workdir: Path):
    assert lightkit("fit", "--config", str(CONFIGS / "wine_mlp.yaml"), *TINY).code == 0
    for which in ("best", "last"):
        result = lightkit("test", "--ckpt_path", which)
        assert result.code == 0, result.err
        assert "test_acc" in result.out


def test_missing_checkpoint_is_a_short_error(lightkit):
    result = lightkit("predict", "--ckpt_path", "nowhere/model.ckpt")
    assert result.code == 1
    assert "nowhere/model.ckpt" in result.err and "does not exist" in result.err
    assert "Traceback" not in result.err
