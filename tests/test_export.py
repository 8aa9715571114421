"""``lightkit export``: ONNX with its preprocessing, the parity check, and prediction without torch.

Tiny runs are trained once per module (two epochs) for wine, breast_cancer (binary), diabetes
(regression), the churn CSV (categoricals one-hot, and embedded with imputation) and the tagging
plugin (multi-label; imported by class path from plugins/lightkit-tagging/src). Each is exported,
then ONNX Runtime's predictions are compared with the checkpoint's, in-process and through a
``lightkit predict --model_file`` subprocess that must not import torch or Lightning.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONFIGS, REPO

import lightkit
from lightkit.cli import main

TAGGING_SRC = REPO / "plugins" / "lightkit-tagging" / "src"
CHURN = CONFIGS / "data" / "churn.csv"
CHURN_NEW = CONFIGS / "data" / "churn_new.csv"
QUICK = (
    "--trainer.max_epochs",
    "2",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.enable_progress_bar",
    "false",
    "--seed_everything",
    "0",
)
ONE_EPOCH = (
    "--trainer.max_epochs",
    "1",
    "--trainer.limit_train_batches",
    "2",
    "--trainer.limit_val_batches",
    "1",
)
SKLEARN = ("--model", "TabularMLP", "--data", "SklearnDataModule", "--data.dataset")
CHURN_ARGS = ("--config", str(CONFIGS / "churn_csv.yaml"), "--data.path", str(CHURN))
TAGGING = (
    "--model",
    "lightkit_tagging.model.TaggingMLP",
    "--data",
    "lightkit_tagging.data.TagTableDataModule",
)
CASES: dict[str, tuple[str, ...]] = {
    "wine": (*SKLEARN, "wine"),
    "breast_cancer": (*SKLEARN, "breast_cancer"),
    "diabetes": (*SKLEARN, "diabetes"),
    "churn": CHURN_ARGS,
    "churn_embedding": (*CHURN_ARGS, "--data.categorical_encoding", "embedding", "--data.missing", "impute"),
    "tagging": (*TAGGING, "--data.synthetic_rows", "400", "--model.threshold", "0.4"),
}
#: float32 tolerances of the parity check (torch.testing's defaults): |onnx - ckpt| <= ATOL + RTOL * |ckpt|
ATOL, RTOL = 1e-5, 1.3e-6

#: models that do not export: an operation without ONNX translation, control flow on tensor values,
#: and outputs that ONNX Runtime cannot reproduce (random noise); and a data module without export hooks
BAD_MODULE = '''
import torch
from lightkit import InMemoryDataModule
from lightkit.components.tabular_mlp import TabularMLP


class ZetaMLP(TabularMLP):
    """TabularMLP whose predictions pass through torch.special.zeta."""

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        p = super().predict_step(batch, batch_idx, dataloader_idx)
        return torch.special.zeta(p + 2.0, torch.ones_like(p))


class BranchyMLP(TabularMLP):
    """TabularMLP with Python control flow on a tensor value."""

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        p = super().predict_step(batch, batch_idx, dataloader_idx)
        if p.sum() > -1:
            return p
        return 1 - p


class NoisyMLP(TabularMLP):
    """TabularMLP whose predictions carry random noise (the same for every class of a row)."""

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        p = super().predict_step(batch, batch_idx, dataloader_idx)
        return p + 1e-4 * torch.rand_like(p[:, :1])


class PlainData(InMemoryDataModule):
    """Random rows for a two-class model, with no export hooks.

    Args:
        batch_size: Rows per training batch.
    """

    def __init__(self, batch_size: int = 16) -> None:
        super().__init__(batch_size=batch_size)

    @property
    def data_shape(self):
        """Two classes from four features."""
        return {"task": "multiclass", "num_features": 4, "num_outputs": 2}

    def build_splits(self, stage):
        """The same random rows for every split."""
        g = torch.Generator().manual_seed(0)
        split = {"x": torch.randn(64, 4, generator=g), "y": torch.randint(0, 2, (64,), generator=g)}
        return {name: dict(split) for name in ("train", "val", "test", "predict")}
'''


@dataclass
class Result:
    code: int
    out: str
    err: str


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


class Cli:
    """``lightkit ARGS`` in-process, from one scratch directory shared by the module's tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: dict[str, Path] = {}

    def __call__(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with _cwd(self.root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())

    def trained(self, name: str, *args: str) -> Path:
        """The run ``name``, trained once with ``args``."""
        if name not in self.runs:
            fit = self("fit", *args, *QUICK, "--run.name", name)
            assert fit.code == 0, fit.err[-3000:]
            self.runs[name] = self.root / "runs" / name
        return self.runs[name]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("export")
    (root / "mods").mkdir()
    (root / "mods" / "kitexportbad.py").write_text(BAD_MODULE)
    paths = [str(TAGGING_SRC), str(root / "mods")]
    sys.path[:0] = paths
    yield Cli(root)
    for path in paths:
        sys.path.remove(path)
    sys.modules.pop("kitexportbad", None)


@dataclass
class Exported:
    case: str
    run: Path
    export: Path
    result: Result


@pytest.fixture(scope="module", params=list(CASES))
def exported(request: pytest.FixtureRequest, cli: Cli) -> Exported:
    case = request.param
    run = cli.trained(case, *CASES[case])
    result = cli("export", "--ckpt_path", str(run))
    assert result.code == 0, result.err[-3000:]
    return Exported(case, run, run / "export", result)


# -- helpers ----------------------------------------------------------------------------------------------
def label_columns(export: Path) -> list[str]:
    from lightkit.export.preprocess import Preprocess

    return Preprocess.from_file(export / "preprocess.json").label_columns()


def assert_same_predictions(got: pd.DataFrame, expected: pd.DataFrame, labels: list[str]) -> None:
    """Same columns; ids and labels identical; numbers within the float32 tolerance."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in expected.columns:
        mine, theirs = got[column], expected[column]
        if column not in labels and pd.api.types.is_float_dtype(theirs):
            np.testing.assert_allclose(mine.to_numpy(float), theirs.to_numpy(float), rtol=RTOL, atol=ATOL)
        else:
            assert mine.astype(str).tolist() == theirs.astype(str).tolist(), column


def raw_rows(cli: Cli, case: str, run: Path, rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` raw rows (drawn with replacement) of the case's data, without targets."""
    rng = np.random.default_rng(seed)
    if case.startswith("churn"):
        frame = pd.read_csv(CHURN).drop(columns=["churned"])
        frame = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
        frame.loc[frame.index % 9 == 0, "plan"] = "enterprise"  # a category training never saw
        if case == "churn_embedding":
            frame.loc[frame.index % 11 == 0, "tenure_months"] = np.nan  # imputed with the train mean
        return frame
    datamodule = lightkit.load_run(run).datamodule
    if case == "tagging":
        frame = datamodule._labelled().drop(columns=datamodule.tags)
    else:
        frame = datamodule.read_frame().drop(columns=["target"])
    return frame.iloc[rng.integers(0, len(frame), rows)]


def checkpoint_reference(cli: Cli, case: str, run: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The checkpoint's predictions of ``frame``: `lightkit predict --ckpt_path` where the data module
    reads a file, else the model and the data module's own transform in this process."""
    if case.startswith("churn") or case == "tagging":
        rows, out = cli.root / f"{case}-rows.csv", cli.root / f"{case}-reference.csv"
        frame.to_csv(rows, index=False)
        result = cli("predict", "--ckpt_path", str(run), "--data.path", str(rows), "--run.output", str(out))
        assert result.code == 0, result.err[-3000:]
        return pd.read_csv(out)
    loaded = lightkit.load_run(run)
    arrays = loaded.datamodule.preprocessor.transform_features(frame)
    with torch.no_grad():
        output = loaded.model.predict_step({k: torch.from_numpy(v) for k, v in arrays.items()}, 0)
    loaded.datamodule.predict_ids = frame.index.tolist()
    return pd.DataFrame(loaded.datamodule.describe_predictions(output))


PROBE = """
import json, sys
from lightkit.cli import main
code = main(json.loads(sys.argv[1]))
# torch, Lightning and lightkit's heavy dependencies: a deployment needs numpy, pandas, onnxruntime (and
# PyYAML, which the command line imports to check --config files before it dispatches)
roots = ("torch", "lightning", "pytorch_lightning", "torchmetrics", "jsonargparse", "rich", "sklearn")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in roots or m.startswith("lightkit.components"))
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def torch_free(*args: str, cwd: Path) -> Result:
    """``lightkit ARGS`` in a fresh interpreter; the last stderr line lists torch/Lightning modules loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True, cwd=cwd
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# -- every case -----------------------------------------------------------------------------------------
def test_export_writes_one_onnx_file_its_preprocessing_and_a_passed_parity_report(exported: Exported):
    import onnx
    from onnx.external_data_helper import uses_external_data

    assert sorted(p.name for p in exported.export.iterdir()) == [
        "export.json",
        "model.onnx",
        "preprocess.json",
    ]
    staging = [p.name for p in exported.run.iterdir() if p.name.startswith(".export.")]
    assert not staging, "a staging directory was left behind"
    model = onnx.load(str(exported.export / "model.onnx"))
    assert not any(uses_external_data(t) for t in model.graph.initializer)
    record = json.loads((exported.export / "export.json").read_text())
    assert record["format"] == "lightkit-export/1"
    assert record["source"]["checkpoint"] == str((exported.run / "checkpoints" / "best.ckpt").resolve())
    assert {"lightkit", "torch", "onnx", "onnxscript", "onnxruntime"} <= set(record["versions"])
    assert record["onnx"]["exporter"] == "dynamo"
    assert record["onnx"]["opset"] == next(
        o.version for o in model.opset_import if o.domain in ("", "ai.onnx")
    )
    assert all(i["shape"][0] == "batch" for i in record["onnx"]["inputs"])  # dynamic batch
    parity = record["parity"]
    assert parity["passed"] and parity["provider"] == "CPUExecutionProvider"
    assert parity["source"] == "validation split" and parity["rows"] > 0
    assert parity["labels_agree"] == parity["rows"] and parity["batch_sizes"] == [parity["rows"], 1]
    assert parity["max_abs_diff"] < 1e-4 and parity["input_max_abs_diff"] == 0.0
    out = exported.result.out
    assert "max abs difference" in out and f"labels agree on {parity['rows']}/{parity['rows']} rows" in out
    assert f"lightkit predict --model_file {exported.export / 'model.onnx'}" in out


def test_preprocess_json_is_versioned_and_reads_back(exported: Exported):
    from lightkit.components.preprocessing import TabularPreprocessor
    from lightkit.export.spec import PREPROCESS_FORMAT, read_spec

    spec = read_spec(exported.export / "preprocess.json")
    assert spec["format"] == PREPROCESS_FORMAT
    datamodule = lightkit.load_run(exported.run).datamodule
    if exported.case == "tagging":
        assert spec["output"] == {
            **spec["output"],
            "kind": "multilabel",
            "labels": datamodule.tags,
            "threshold": 0.4,
        }
        assert spec["inputs"][0]["name"] == "X" and spec["inputs"][0]["parts"][0]["compute"] == "float64"
        return
    assert TabularPreprocessor.from_json(spec) == datamodule.preprocessor
    if exported.case == "diabetes":
        assert spec["output"]["target_scaling"]["mean"] == datamodule.preprocessor.target_mean
    if exported.case == "churn_embedding":
        assert [i["name"] for i in spec["inputs"]] == ["x", "x_cat"]
        assert spec["inputs"][0]["parts"][0]["fill"] == datamodule.preprocessor.mean
    if exported.case == "churn":
        plan = next(p for p in spec["inputs"][0]["parts"] if p.get("column") == "plan")
        assert plan["vocabulary"][0] == "<unknown>" and plan["unknown"] == 0


def test_onnx_runtime_matches_the_checkpoint_on_1_7_and_1000_rows(exported: Exported, cli: Cli):
    frame = raw_rows(cli, exported.case, exported.run, 1000)
    expected = checkpoint_reference(cli, exported.case, exported.run, frame)
    predictor = lightkit.onnx_predictor(exported.export)
    if (
        exported.case.startswith("churn") or exported.case == "tagging"
    ):  # read like `lightkit predict` read it
        frame = predictor.frame(cli.root / f"{exported.case}-rows.csv")
    labels = label_columns(exported.export)
    for rows in (1, 7, 1000):
        got = predictor.predict(frame.iloc[:rows])
        assert_same_predictions(got, expected.iloc[:rows].reset_index(drop=True), labels)
        assert predictor.outputs(frame.iloc[:rows]).shape[0] == rows


def test_torch_free_predict_writes_the_checkpoints_predictions_csv(exported: Exported, cli: Cli):
    ckpt_csv, onnx_csv = cli.root / f"{exported.case}-ckpt.csv", cli.root / f"{exported.case}-onnx.csv"
    if exported.case.startswith("churn"):
        rows, extra, id_flag = CHURN_NEW, ["--data.path", str(CHURN_NEW)], []
    else:  # the checkpoint predicts the test split: the same raw rows, ids kept in a `row` column
        datamodule = lightkit.load_run(exported.run).datamodule
        if exported.case == "tagging":
            frame = datamodule._labelled().iloc[datamodule._rows()["test"]].drop(columns=datamodule.tags)
        else:
            frame = datamodule.read_predict_frame().drop(columns=["target"])
        rows, extra, id_flag = cli.root / f"{exported.case}-test.csv", [], ["--data.id_column", "row"]
        frame.to_csv(rows, index_label="row")
    result = cli("predict", "--ckpt_path", str(exported.run), *extra, "--run.output", str(ckpt_csv))
    assert result.code == 0, result.err[-3000:]
    model_file = exported.export / "model.onnx"
    onnx = torch_free(
        "predict",
        "--model_file",
        str(model_file),
        "--data.path",
        str(rows),
        *id_flag,
        "--run.output",
        str(onnx_csv),
        cwd=cli.root,
    )
    assert onnx.code == 0, onnx.err
    assert onnx.err.strip().splitlines()[-1] == "HEAVY=", onnx.err  # no torch, no Lightning, no jsonargparse
    assert f"predictions written to {onnx_csv}" in onnx.err
    if exported.case.startswith("churn"):
        assert (
            "warning: categories never seen in training are encoded as unknown (plan: 'enterprise')"
            in onnx.err
        )
    assert onnx_csv.read_text().splitlines()[0] == ckpt_csv.read_text().splitlines()[0]
    assert_same_predictions(pd.read_csv(onnx_csv), pd.read_csv(ckpt_csv), label_columns(exported.export))


# -- the torch-free path ------------------------------------------------------------------------------
def test_python_x_importtime_shows_neither_torch_nor_lightning_on_the_onnx_path(cli: Cli):
    run = cli.trained("churn", *CASES["churn"])
    if not (run / "export").is_dir():
        assert cli("export", "--ckpt_path", str(run)).code == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "lightkit",
            "predict",
            "--model_file",
            str(run / "export"),
            "--data.path",
            str(CHURN_NEW),
            "--run.output",
            str(cli.root / "importtime.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=cli.root,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    }
    assert {"onnxruntime", "pandas", "numpy"} <= imported  # the measurement sees the imports
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"torch", "lightning", "pytorch_lightning", "torchmetrics"}, sorted(roots)
    assert (cli.root / "importtime.csv").is_file()


def test_onnx_predictor_needs_only_numpy_pandas_and_onnxruntime(cli: Cli):
    run = cli.trained("churn", *CASES["churn"])
    if not (run / "export").is_dir():
        assert cli("export", "--ckpt_path", str(run)).code == 0
    code = (
        "import sys, lightkit\n"
        f"table = lightkit.onnx_predictor({str(run / 'export')!r}).predict({str(CHURN_NEW)!r})\n"
        "print(len(table), sorted({m.split('.')[0] for m in sys.modules}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cli.root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows, roots = proc.stdout.split(" ", 1)
    assert int(rows) == len(pd.read_csv(CHURN_NEW)) and "'onnxruntime'" in roots
    for heavy in ("torch", "lightning", "torchmetrics", "jsonargparse", "yaml", "rich", "sklearn"):
        assert f"'{heavy}'" not in roots, heavy


def test_onnx_predictor_takes_dicts_and_says_where_it_came_from(cli: Cli):
    run = cli.trained("churn", *CASES["churn"])
    if not (run / "export").is_dir():
        assert cli("export", "--ckpt_path", str(run)).code == 0
    predictor = lightkit.onnx_predictor(run / "export" / "model.onnx")
    row = {
        "customer_id": "X1",
        "plan": "basic",
        "region": "east",
        "tenure_months": 3,
        "monthly_spend": 99.5,
        "support_tickets": 4,
    }
    table = predictor.predict([row, {**row, "customer_id": "X2", "plan": "platinum"}])
    assert list(table.columns) == ["customer_id", "prediction", "prob_0", "prob_1"]
    assert table["customer_id"].tolist() == ["X1", "X2"]
    assert set(table["prediction"]) <= {"0", "1"}
    np.testing.assert_allclose(table["prob_0"] + table["prob_1"], 1.0, atol=1e-6)
    assert predictor.export_record["parity"]["passed"]
    assert predictor.columns == ["tenure_months", "monthly_spend", "support_tickets", "plan", "region"]


def test_torch_free_predict_errors_are_short(cli: Cli):
    run = cli.trained("churn", *CASES["churn"])
    if not (run / "export").is_dir():
        assert cli("export", "--ckpt_path", str(run)).code == 0
    model_file = str(run / "export" / "model.onnx")
    missing = cli("predict", "--model_file", "nowhere.onnx", "--data.path", str(CHURN_NEW))
    assert missing.code == 1
    assert missing.err.startswith("error: model file 'nowhere.onnx' (from --model_file) does not exist")
    pd.read_csv(CHURN_NEW).drop(columns=["region"]).to_csv(cli.root / "no-region.csv", index=False)
    column = cli("predict", "--model_file", model_file, "--data.path", "no-region.csv")
    assert column.code == 1 and column.err.startswith(
        "error: feature column 'region' not found in no-region.csv"
    )
    both = cli("predict", "--model_file", model_file, "--ckpt_path", str(run), "--data.path", str(CHURN_NEW))
    assert both.code == 2 and "--ckpt_path and --model_file given together" in both.err
    unknown = cli(
        "predict", "--model_file", model_file, "--data.path", str(CHURN_NEW), "--trainer.devices", "2"
    )
    assert unknown.code == 2 and "unrecognized arguments: --trainer.devices 2" in unknown.err
    for result in (missing, column, both, unknown):
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) <= 3, result.err


def test_a_preprocess_json_of_another_version_is_refused(cli: Cli, tmp_path: Path):
    import shutil

    run = cli.trained("wine", *CASES["wine"])
    if not (run / "export").is_dir():
        assert cli("export", "--ckpt_path", str(run)).code == 0
    copy = tmp_path / "export"
    shutil.copytree(run / "export", copy)
    spec = json.loads((copy / "preprocess.json").read_text())
    (copy / "preprocess.json").write_text(json.dumps({**spec, "format": "lightkit-preprocess/2"}))
    result = cli("predict", "--model_file", str(copy), "--data.path", str(CHURN_NEW))
    assert result.code == 1
    assert "its format is 'lightkit-preprocess/2'; this lightkit reads 'lightkit-preprocess/1'" in result.err
    (copy / "preprocess.json").unlink()
    gone = cli("predict", "--model_file", str(copy), "--data.path", str(CHURN_NEW))
    assert gone.code == 1 and "error: no preprocess.json beside" in gone.err


# -- models and data that do not export ---------------------------------------------------------------------
def _entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_an_operation_without_onnx_translation_is_a_short_error_and_leaves_nothing(cli: Cli):
    run = cli.trained("zeta", "--model", "kitexportbad.ZetaMLP", "--data", "SklearnDataModule", *ONE_EPOCH)
    before = _entries(run)
    result = cli("export", "--ckpt_path", str(run))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines[0] == (
        "error: ZetaMLP.predict_step cannot be exported to ONNX: operation prims.zeta has no ONNX translation"
    )
    assert lines[1].startswith("hint:") and "pass --exporter legacy" in lines[1]
    assert len(lines) == 3 and "Traceback" not in result.err and result.out == ""
    assert _entries(run) == before  # no export/, no staging directory
    legacy = cli("export", "--ckpt_path", str(run), "--exporter", "legacy")
    assert legacy.code == 1 and "operation aten.special_zeta has no ONNX translation" in legacy.err
    assert len(legacy.err.strip().splitlines()) == 3, legacy.err
    assert _entries(run) == before


def test_control_flow_on_tensor_values_names_the_line_and_the_legacy_exporter_is_the_fallback(cli: Cli):
    run = cli.trained(
        "branchy", "--model", "kitexportbad.BranchyMLP", "--data", "SklearnDataModule", *ONE_EPOCH
    )
    result = cli("export", "--ckpt_path", str(run))
    assert result.code == 1
    first = result.err.splitlines()[0]
    assert first.startswith("error: torch.export cannot trace BranchyMLP.predict_step at kitexportbad.py:")
    assert "(`if p.sum() > -1:`)" in first and "--exporter legacy" in result.err
    assert not (run / "export").exists()
    legacy = cli("export", "--ckpt_path", str(run), "--exporter", "legacy")
    assert legacy.code == 0, legacy.err
    record = json.loads((run / "export" / "export.json").read_text())
    assert record["onnx"]["exporter"] == "legacy" and record["parity"]["passed"]
    assert "legacy exporter" in legacy.out


def test_a_failed_parity_check_writes_nothing_and_keeps_the_earlier_export(cli: Cli):
    wine = cli.trained("wine", *CASES["wine"])
    noisy = cli.trained(
        "noisy", "--model", "kitexportbad.NoisyMLP", "--data", "SklearnDataModule", *ONE_EPOCH
    )
    target = cli.root / "deploy" / "model"
    assert cli("export", "--ckpt_path", str(wine), "--output", str(target)).code == 0
    before = (target / "export.json").read_text()
    result = cli("export", "--ckpt_path", str(noisy), "--output", str(target))
    assert result.code == 1
    assert "parity on" in result.err and "max abs difference" in result.err  # the report, then the error
    error = next(line for line in result.err.splitlines() if line.startswith("error:"))
    assert error.startswith("error: parity check failed on the validation split: outputs differ by up to")
    assert "nothing was written to" in result.err and "--atol" in result.err
    assert (target / "export.json").read_text() == before
    assert _entries(target.parent) == ["model"]
    loose = cli("export", "--ckpt_path", str(noisy), "--output", str(target), "--atol", "1e-3")
    assert loose.code == 0, loose.err
    assert json.loads((target / "export.json").read_text())["source"]["checkpoint"].endswith(
        str(Path("noisy") / "checkpoints" / "best.ckpt")
    )


def test_an_output_directory_that_is_not_an_export_is_refused(cli: Cli):
    wine = cli.trained("wine", *CASES["wine"])
    foreign = cli.root / "foreign"
    foreign.mkdir(exist_ok=True)
    (foreign / "notes.txt").write_text("mine")
    result = cli("export", "--ckpt_path", str(wine), "--output", str(foreign))
    assert result.code == 1
    assert result.err.startswith(
        f"error: --output {str(foreign)!r} holds files that are not a lightkit export"
    )
    assert _entries(foreign) == ["notes.txt"]


def test_an_export_into_a_run_being_trained_is_refused_and_writes_nothing(cli: Cli):
    from lightkit.runs.lock import lock_run

    wine = cli.trained("wine", *CASES["wine"])
    before = sorted(p.name for p in wine.iterdir())
    training = lock_run(wine, "lightkit fit --ckpt_path last --run.name wine")  # as a running fit holds it
    try:
        result = cli("export", "--ckpt_path", str(wine), "--output", str(wine / "export-locked"))
        assert result.code != 0
        assert "error:" in result.err and "in use" in result.err and str(os.getpid()) in result.err, result.err
        assert "Traceback" not in result.err
        assert sorted(p.name for p in wine.iterdir()) == before  # nothing written into the run
    finally:
        training.release()
    shared = cli("export", "--ckpt_path", str(wine), "--output", str(cli.root / "export-outside"))
    assert shared.code == 0, shared.err[-3000:]  # outside the run: a shared lock, free now


def test_check_data_replaces_the_validation_rows(cli: Cli):
    run = cli.trained("churn", *CASES["churn"])
    result = cli(
        "export", "--ckpt_path", str(run), "--check_data", str(CHURN_NEW), "--output", str(cli.root / "cd")
    )
    assert result.code == 0, result.err
    parity = json.loads((cli.root / "cd" / "export.json").read_text())["parity"]
    assert parity["source"] == f"file {str(CHURN_NEW)!r}" and parity["rows"] == len(pd.read_csv(CHURN_NEW))


def test_a_data_module_hook_with_a_malformed_spec_is_named():
    from lightkit.export import ExportError
    from lightkit.export.hooks import export_spec

    class Data:
        def export_preprocessing(self, model):
            return {
                "inputs": [{"name": "x", "parts": [{"kind": "numeric", "columns": ["a"], "mean": [0.0]}]}]
            }

    with pytest.raises(ExportError) as info:
        export_spec(Data(), model=None)
    assert info.value.stage == "data"
    assert info.value.message == (
        "Data.export_preprocessing() does not describe the preprocessing in preprocess.json's shape: "
        "inputs[0].parts[0] has no 'std'"
    )
    with pytest.raises(
        ExportError, match="data module object cannot be exported: it has no export_preprocessing"
    ):
        export_spec(object(), model=None)


# -- the conformance kit ------------------------------------------------------------------------------------
@pytest.fixture
def kit_plugins(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A distribution registering the tagging plugin, a model that cannot export, a hook-less data module."""
    from lightkit import registry

    info = tmp_path / "kit_export_fixtures-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-export-fixtures\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[lightkit.models]\nTaggingMLP = lightkit_tagging.model:TaggingMLP\nZetaMLP = kitexportbad:ZetaMLP\n"
        "[lightkit.datamodules]\nTagTableDataModule = lightkit_tagging.data:TagTableDataModule\n"
        "PlainData = kitexportbad:PlainData\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    yield
    monkeypatch.undo()
    registry.refresh()


def test_the_kit_reports_that_the_tagging_plugin_exports(kit_plugins):
    from lightkit.testing import CHECKS, check_plugin

    assert "export" in CHECKS
    report = check_plugin(
        "TaggingMLP", data="TagTableDataModule", args=["--data.synthetic_rows", "200"], checks=["export"]
    )
    result = report.result("export")
    assert result.status == "pass", str(report)
    assert result.summary.startswith("model.onnx (dynamo, opset") and "every label equal" in result.summary


def test_the_kit_fails_a_model_that_does_not_export_naming_the_operation(kit_plugins):
    from lightkit.testing import check_plugin

    report = check_plugin("ZetaMLP", data="SklearnDataModule", checks=["export"], raise_on_failure=False)
    result = report.result("export")
    assert result.status == "fail" and "operation prims.zeta has no ONNX translation" in result.summary
    assert "--exporter legacy" in result.fix and "checks=" in result.fix


def test_the_kit_skips_export_for_a_data_module_without_hooks(kit_plugins):
    from lightkit.testing import check_plugin

    report = check_plugin("PlainData", model="TabularMLP", checks=["export"])
    result = report.result("export")
    assert result.status == "skip" and report.ok
    assert "PlainData cannot be exported: it has no export_preprocessing() method" in result.summary
    assert any("example_input_array" in line for line in result.details)
