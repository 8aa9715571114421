"""Nothing lost: no command writes over its inputs, a checkpoint or a run's records.

Every command that writes a file a user names asks ``lightkit.files.check_output`` first, before
anything is written. Each test checks the exit code, the message, and that every input,
checkpoint and record is byte-identical afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CONFIGS
from test_bad_inputs import CHURN, CHURN_CSV, CHURN_NEW, assert_clean


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch churn run, copied into each test's working directory."""
    from lightkit.cli import main

    root = tmp_path_factory.mktemp("runs")
    args = ["fit", "--config", CHURN, "--data.path", str(CHURN_CSV), "--trainer.max_epochs", "1", "--run.name", "churn"]
    assert main([*args, "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(root)]) == 0
    return root / "churn"


@pytest.fixture
def run(trained: Path, workdir: Path) -> Path:
    copy = workdir / "runs" / "churn"
    shutil.copytree(trained, copy)
    shutil.copy(CHURN_NEW, workdir / "new.csv")
    return copy


def _files(*roots: Path) -> dict[str, bytes]:
    found = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        found.update({str(p): p.read_bytes() for p in paths if p.name != ".lock"})
    return found


def _predict(lightkit, *args: str):
    return lightkit("predict", "--ckpt_path", "runs/churn", "--data.path", "new.csv", *args)


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("runs/churn/checkpoints/best.ckpt", ("'runs/churn/checkpoints/best.ckpt'", "an input of this command", "--ckpt_path")),
        ("runs/churn/checkpoints/last.ckpt", ("'runs/churn/checkpoints/last.ckpt'", "is a checkpoint")),
        ("runs/churn/checkpoints/out.csv", ("inside the checkpoints of run 'runs/churn'",)),
        ("new.csv", ("--run.output 'new.csv'", "an input of this command", "--data.path")),
        ("runs/churn/config.yaml", ("'runs/churn/config.yaml'", "a record of run 'runs/churn'")),
        ("runs/churn/metrics.csv", ("a record of run 'runs/churn'",)),
        ("runs/churn/state.json", ("a record of run 'runs/churn'",)),
        ("runs/churn/versions.json", ("a record of run 'runs/churn'",)),
        ("runs", ("--run.output 'runs' is a directory", "a file is wanted")),
    ],
    ids=["best.ckpt", "last.ckpt", "in checkpoints/", "data.path", "config.yaml", "metrics.csv",
         "state.json", "versions.json", "a directory"],
)  # fmt: skip
def test_predict_refuses_outputs_it_must_not_write(lightkit, run: Path, output: str, words: tuple[str, ...]):
    before = _files(run, Path("new.csv"))
    assert_clean(_predict(lightkit, "--run.output", output), 1, *words)
    assert _files(run, Path("new.csv")) == before
    assert not (run / "predictions.csv").exists()


def test_predict_never_follows_a_symlink_out_of_the_run(lightkit, run: Path, workdir: Path):
    outside = workdir / "precious.csv"
    outside.write_text("keep me\n")
    (run / "predictions.csv").symlink_to(outside)
    before = _files(run, outside)
    result = _predict(lightkit)
    assert_clean(result, 1, "'runs/churn/predictions.csv'", "a symlink leads out of it", "precious.csv")
    assert outside.read_text() == "keep me\n"
    (run / "predictions.csv").unlink()
    (run / "elsewhere").symlink_to(workdir, target_is_directory=True)
    assert_clean(_predict(lightkit, "--run.output", "runs/churn/elsewhere/p.csv"), 1, "symlink leads out")
    (run / "elsewhere").unlink()
    assert _files(run, outside) == {k: v for k, v in before.items() if not k.endswith("predictions.csv")}


def test_a_prediction_writer_of_the_users_own_is_guarded_too(lightkit, run: Path):
    before = _files(run, Path("new.csv"))
    writer = ["--trainer.callbacks+=PredictionWriter", "--trainer.callbacks.output_path", "new.csv"]
    assert_clean(_predict(lightkit, *writer), 1, "PredictionWriter's output_path 'new.csv'", "--data.path")
    assert _files(run, Path("new.csv")) == before
    writer[-1] = "mine.csv"  # a path it may write: the user's writer writes it, and nothing else does
    result = _predict(lightkit, *writer)
    assert result.code == 0, result.err
    assert Path("mine.csv").read_text().startswith("customer_id,")
    assert not (run / "predictions.csv").exists()


def test_predict_writes_beside_its_inputs(lightkit, run: Path):
    """The guard refuses only what it must: a new file in the run is written."""
    before = _files(run / "checkpoints", run / "config.yaml", Path("new.csv"))
    result = _predict(lightkit)
    assert result.code == 0, result.err
    assert (run / "predictions.csv").read_text().startswith("customer_id,")
    assert _files(run / "checkpoints", run / "config.yaml", Path("new.csv")) == before


def test_tune_refuses_to_write_its_config_over_its_input(lightkit):
    shutil.copy(CONFIGS / "wine_mlp.yaml", "base.yaml")
    before = Path("base.yaml").read_bytes()
    result = lightkit("tune", "lr", "--config", "base.yaml", "--write_config", "base.yaml")
    assert_clean(result, 1, "--write_config 'base.yaml'", "an input of this command", "--config")
    assert Path("base.yaml").read_bytes() == before
    assert not Path("lr_find.png").exists()


def test_tune_refuses_a_backwards_range(lightkit):
    result = lightkit("tune", "lr", "--config", str(CONFIGS / "wine_mlp.yaml"), "--min_lr", "1", "--max_lr", "1e-8")
    assert_clean(result, 2, "--min_lr (1.0) must be below --max_lr (1e-08)", "backwards")


def test_sweep_refuses_to_export_over_its_sweep_file(lightkit):
    shutil.copy(CONFIGS / "sweep_breast_cancer.yaml", "sweep.yaml")
    before = Path("sweep.yaml").read_bytes()
    result = lightkit(
        "sweep", "--config", str(CONFIGS / "breast_cancer_mlp.yaml"), "--sweep", "sweep.yaml", "--export_best", "sweep.yaml"
    )
    assert_clean(result, 1, "--export_best 'sweep.yaml'", "an input of this command", "--sweep")
    assert Path("sweep.yaml").read_bytes() == before
    assert not Path("sweeps").exists() and not Path("runs").exists()


def test_runs_plot_refuses_a_record_as_output(lightkit, run: Path):
    before = _files(run)
    result = lightkit("runs", "plot", "runs/churn", "--metric", "val_loss", "--output", "runs/churn/metrics.csv")
    assert_clean(result, 1, "--output 'runs/churn/metrics.csv'", "a record of run 'runs/churn'")
    assert _files(run) == before
    assert lightkit("runs", "plot", "runs/churn", "--metric", "val_loss", "--output", "plot.png").code == 0
    assert Path("plot.png").read_bytes()[:4] == b"\x89PNG"


def test_export_refuses_the_run_directory_itself(lightkit, run: Path):
    pytest.importorskip("onnxruntime")
    before = _files(run)
    result = lightkit("export", "--ckpt_path", "runs/churn", "--output", "runs/churn/checkpoints")
    assert_clean(result, 1, "'runs/churn/checkpoints'")
    assert _files(run) == before


def test_output_guard_unit_rules(tmp_path: Path):
    from lightkit.files import OutputRefused, check_output

    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("model: x\n")
    with pytest.raises(OutputRefused, match="a checkpoint"):
        check_output(tmp_path / "anywhere.ckpt", "--x")
    with pytest.raises(OutputRefused, match="holds an input"):
        check_output(tmp_path, "--output", {str(run / "config.yaml"): "--config"}, directory=True)
    with pytest.raises(OutputRefused, match="itself"):
        check_output(run, "--output", directory=True)
    assert check_output(tmp_path / "config.yaml", "--x") == tmp_path / "config.yaml"  # not a run's record
    assert check_output(run / "export", "--output", run_dir=run, directory=True) == run / "export"


def test_the_fold_ensemble_never_writes_over_the_cross_validation_record(lightkit, workdir: Path):
    fit = lightkit(
        "fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--cv.folds", "2", "--run.name", "cv",
        "--trainer.max_epochs", "1", "--trainer.enable_model_summary", "false",
    )  # fmt: skip
    assert fit.code == 0, fit.err
    parent = workdir / "runs" / "cv"
    before = _files(parent)
    result = lightkit("predict", "--ckpt_path", "runs/cv", "--run.output", "runs/cv/cv.json")
    assert_clean(result, 1, "--run.output 'runs/cv/cv.json'", "an input of this command")
    assert _files(parent) == before
