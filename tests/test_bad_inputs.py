"""The bad-input matrix: every row ends in exit 2 (usage) or 1 (runtime) with a short message that
names the bad value, where it came from, and what would be valid; never a traceback.

docs/reliability.md lists the same rows with the messages they print.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import lightning  # noqa: F401 - imported at collection, so its log handler binds to the session's stderr
import pytest

from conftest import CONFIGS, FAST, Result

WINE = str(CONFIGS / "wine_mlp.yaml")
CHURN = str(CONFIGS / "churn_csv.yaml")
CHURN_CSV = CONFIGS / "data" / "churn.csv"
CHURN_NEW = CONFIGS / "data" / "churn_new.csv"

_WINE_TEXT = "model:\n  class_path: TabularMLP\n{model}data:\n  class_path: SklearnDataModule\n  init_args:\n    dataset: wine\n"


def assert_clean(result: Result, code: int, *words: str) -> str:
    """Exit ``code``, no traceback, an ``error:`` message of at most 10 lines containing ``words``."""
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    assert "error:" in result.err, result.err
    message = result.err[result.err.index("error:") :].strip()
    assert len(message.splitlines()) <= 10, message
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"
    return message


def csv_lines(edit: dict[int, tuple[int, str]] | None = None, sep: str = ",") -> str:
    """churn.csv with cells replaced: {data line number: (column index, new text)}."""
    lines = CHURN_CSV.read_text().splitlines()
    for line_no, (col, text) in (edit or {}).items():
        cells = lines[line_no - 1].split(",")
        cells[col] = text
        lines[line_no - 1] = ",".join(cells)
    return "\n".join(line.replace(",", sep) for line in lines) + "\n"


@dataclass
class Row:
    """One bad input: files to write, the command, the exit code and the words the message must have."""

    args: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)


CONFIG_ROWS = {
    "option of a component that was not chosen": Row(
        ("fit", "--config", WINE, "--tracking.uri", "x"),
        2, ("--tracking.<option> was given, but no tracking was chosen", "--tracking NAME"),
    ),
    "unknown key (flag)": Row(
        ("fit", "--config", WINE, "--model.hiden_sizes", "[8]"),
        2, ("'model.hiden_sizes'", "from --model.hiden_sizes", "did you mean 'hidden_sizes'"),
    ),
    "unknown key (file)": Row(
        ("fit", "--config", "bad.yaml"),
        2, ("'model.hiden_sizes'", "from bad.yaml, line 4", "did you mean 'hidden_sizes'"),
        {"bad.yaml": _WINE_TEXT.format(model="  init_args:\n    hiden_sizes: [8]\n")},
    ),
    "unknown top-level key (file)": Row(
        ("fit", "--config", "bad.yaml"),
        2, ("'modle'", "from bad.yaml, line 1", "did you mean 'model'"),
        {"bad.yaml": "modle:\n  class_path: TabularMLP\n"},
    ),
    "unknown trainer key (file)": Row(
        ("fit", "--config", WINE, "--config", "bad.yaml"),
        2, ("'trainer.max_epoch'", "bad.yaml, line 2", "did you mean 'trainer.max_epochs'"),
        {"bad.yaml": "trainer:\n  max_epoch: 3\n"},
    ),
    "unknown flag": Row(("fit", "--config", WINE, "--trainer.maxepochs", "3"), 2, ("'--trainer.maxepochs'", "--trainer.max_epochs")),
    "wrong type (flag)": Row(
        ("fit", "--config", WINE, "--model.lr", "fast"), 2, ("model.lr", "'fast'", "a float", "from --model.lr")
    ),
    "wrong type (file)": Row(
        ("fit", "--config", "bad.yaml"),
        2, ("model.lr", "'fast'", "a float", "from bad.yaml, line 4"),
        {"bad.yaml": _WINE_TEXT.format(model="  init_args:\n    lr: fast\n")},
    ),
    "wrong type (trainer)": Row(
        ("fit", "--config", WINE, "--trainer.max_epochs", "ten"), 2, ("trainer.max_epochs", "'ten'", "an int")
    ),
    "not one of the choices": Row(
        ("fit", "--config", CHURN, "--data.missing", "drop"),
        2, ("data.missing", "'drop'", "from --data.missing", "'error', 'impute'"),
    ),
    "choice typo in file": Row(
        ("fit", "--config", "bad.yaml"),
        2, ("data.dataset", "'wines'", "bad.yaml, line 6", "did you mean 'wine'"),
        {"bad.yaml": _WINE_TEXT.format(model="").replace("dataset: wine", "dataset: wines")},
    ),
    "unknown plugin name": Row(
        ("fit", "--config", WINE, "--model", "TabularMPL"), 2, ("'TabularMPL'", "from --model", "did you mean 'TabularMLP'")
    ),
    "unknown plugin name (file)": Row(
        ("fit", "--config", "bad.yaml"),
        2, ("'TabularMPL'", "bad.yaml", "did you mean 'TabularMLP'"),
        {"bad.yaml": "model:\n  class_path: TabularMPL\n"},
    ),
    "not a model class": Row(
        ("fit", "--config", WINE, "--model", "torch.nn.Linear"),
        2, ("'torch.nn.Linear'", "not a known model class", "from --model"),
    ),
    "missing required argument": Row(
        ("fit", "--model", "TabularMLP", "--data", "CSVDataModule"),
        2, ("data.path", "data.target", "CSVDataModule", "chosen by --data", "--data.path VALUE", "init_args"),
    ),
    "no model at all": Row(("fit",), 2, ("no model given", "--model NAME", "lightkit plugins list")),
    "YAML syntax error": Row(
        ("fit", "--config", "bad.yaml"), 2, ("YAML syntax error", "bad.yaml:3"),
        {"bad.yaml": "model:\n  class_path: TabularMLP\n   init_args: [\n"},
    ),
    "missing config file": Row(("fit", "--config", "nope.yaml"), 2, ("'nope.yaml'", "not found")),
    "config for another subcommand": Row(
        ("fit", "--config", "bad.yaml"), 2, ("bad.yaml, line 1", "'predict:'", "lightkit predict"),
        {"bad.yaml": "predict:\n  ckpt_path: runs/x/checkpoints/best.ckpt\n"},
    ),
    "predict-only key in a fit config": Row(
        ("fit", "--config", WINE, "--config", "bad.yaml"), 2, ("'return_predictions'", "bad.yaml, line 1", "lightkit predict"),
        {"bad.yaml": "return_predictions: true\n"},
    ),
    "config that is not a mapping": Row(
        ("fit", "--config", "bad.yaml"), 2, ("'bad.yaml'", "not a mapping"), {"bad.yaml": "- model\n- data\n"}
    ),
    "value a component refuses": Row(
        ("fit", "--config", WINE, "--model.dropout", "3", *FAST), 2, ("model.dropout", "3.0", "[0, 1)", "from --model.dropout")
    ),
}

CSV_ROWS = {
    "CSV not found": Row(("fit", "--config", CHURN, "--data.path", "nothere.csv", *FAST), 1, ("'nothere.csv'", "data.path", "does not exist")),
    "CSV empty": Row(("fit", "--config", CHURN, "--data.path", "d.csv", *FAST), 1, ("'d.csv'", "is empty"), {"d.csv": ""}),
    "CSV header only": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST), 1, ("'d.csv'", "no data rows", "customer_id"),
        {"d.csv": CHURN_CSV.read_text().splitlines()[0] + "\n"},
    ),
    "missing target column": Row(
        ("fit", "--config", CHURN, "--data.path", str(CHURN_CSV), "--data.target", "churn", *FAST),
        1, ("target column 'churn'", "did you mean 'churned'"),
    ),
    "non-numeric value in a numeric column": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST),
        1, ("'lots'", "column 'tenure_months'", "line 6 of d.csv", "--data.categorical"),
        {"d.csv": csv_lines({6: (3, "lots")})},
    ),
    "empty cell (refused by default)": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST),
        1, ("empty or NaN cell", "'tenure_months'", "line 8 of d.csv", "--data.missing impute"),
        {"d.csv": csv_lines({8: (3, "")})},
    ),
    "infinite value": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", "--data.missing", "impute", *FAST),
        1, ("infinite value", "'monthly_spend'", "line 9 of d.csv"),
        {"d.csv": csv_lines({9: (4, "inf")})},
    ),
    "empty target cell": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST),
        1, ("empty target cell", "'churned'", "line 12 of d.csv"),
        {"d.csv": csv_lines({12: (6, "")})},
    ),
    "wrong delimiter": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST),
        1, ("'churned' not found", "';'-delimited", "--data.delimiter ';'"),
        {"d.csv": csv_lines(sep=";")},
    ),
    "ragged line": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST),
        1, ("cannot be parsed", "line 5", "fields"),
        {"d.csv": csv_lines({5: (6, "0,extra")})},
    ),
    "not UTF-8": Row(
        ("fit", "--config", CHURN, "--data.path", "d.csv", *FAST), 1, ("'d.csv'", "not UTF-8", "byte 0xff on line 2"),
        {"d.csv": CHURN_CSV.read_text().replace("south", "s\udcffuth", 1)},
    ),
}


def _write(files: dict[str, str]) -> None:
    for name, text in files.items():
        Path(name).write_bytes(text.encode("utf-8", errors="surrogateescape"))


@pytest.mark.parametrize("row", CONFIG_ROWS.values(), ids=CONFIG_ROWS.keys())
def test_config_row(lightkit, row: Row):
    _write(row.files)
    assert_clean(lightkit(*row.args), row.code, *row.words)


@pytest.mark.parametrize("row", CSV_ROWS.values(), ids=CSV_ROWS.keys())
def test_csv_row(lightkit, row: Row):
    _write(row.files)
    assert_clean(lightkit(*row.args), row.code, *row.words)


def test_empty_cells_are_imputed_when_asked(lightkit):
    """The other half of the NaN row: ``--data.missing impute`` fills them with the train mean."""
    _write({"d.csv": csv_lines({8: (3, "")})})
    result = lightkit("fit", "--config", CHURN, "--data.path", "d.csv", "--data.missing", "impute", *FAST)
    assert result.code == 0, result.err


# -- rows that need a trained checkpoint ----------------------------------------------------------------
@pytest.fixture(scope="module")
def churn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch churn run, shared by the checkpoint and predict rows (never written to)."""
    from lightkit.cli import main

    root = tmp_path_factory.mktemp("runs")
    args = ["fit", "--config", CHURN, "--data.path", str(CHURN_CSV), "--trainer.max_epochs", "1"]
    code = main([*args, "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(root), "--run.name", "churn"])
    assert code == 0
    return root / "churn"


def _copy_run(run: Path, workdir: Path) -> Path:
    copy = workdir / "runs" / run.name
    shutil.copytree(run, copy)
    return copy


def test_checkpoint_not_found(lightkit):
    assert_clean(lightkit("predict", "--ckpt_path", "nowhere/model.ckpt"), 1, "'nowhere/model.ckpt'", "does not exist")


def test_best_without_any_run(lightkit):
    assert_clean(lightkit("predict", "--ckpt_path", "best"), 1, "--ckpt_path best", "lightkit fit")


def test_truncated_checkpoint_offers_the_previous_good_one(lightkit, workdir: Path, churn_run: Path):
    run = _copy_run(churn_run, workdir)
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    message = assert_clean(lightkit("predict", "--ckpt_path", str(last)), 1, "truncated or corrupt", "last.ckpt")
    assert "previous good checkpoint" in message and "best.ckpt" in message


def test_garbage_checkpoint(lightkit):
    Path("model.ckpt").write_bytes(b"this is not a checkpoint at all")
    assert_clean(lightkit("predict", "--ckpt_path", "model.ckpt"), 1, "'model.ckpt'", "truncated or corrupt")


def test_file_that_is_not_a_lightning_checkpoint(lightkit):
    import torch

    torch.save({"weights": torch.zeros(2)}, "model.ckpt")
    assert_clean(lightkit("predict", "--ckpt_path", "model.ckpt"), 1, "'model.ckpt'", "not a Lightning checkpoint")


def test_checkpoint_from_another_model(lightkit, churn_run: Path):
    result = lightkit(
        "predict", "--ckpt_path", str(churn_run), "--model.hidden_sizes", "[8]", "--data.path", str(CHURN_NEW),
        "--run.output", "out.csv",
    )
    message = assert_clean(result, 1, "does not fit TabularMLP", "differ in shape", "checkpoint")
    assert "model.hidden_sizes" in result.err  # the override is shown as a change against the checkpoint
    assert "net.0.weight" in message


def _new_rows_with_an_unseen_region() -> None:
    """Ten training rows to predict on, with region 'atlantis' on line 5."""
    rows = csv_lines({5: (2, "atlantis")}).splitlines()[:11]
    Path("new.csv").write_text("\n".join(rows) + "\n")


def test_unseen_category_is_encoded_as_unknown_and_named(lightkit, churn_run: Path):
    _new_rows_with_an_unseen_region()
    with pytest.warns(UserWarning, match="never seen in training.*region: 'atlantis'"):
        result = lightkit("predict", "--ckpt_path", str(churn_run), "--data.path", "new.csv", "--run.output", "out.csv")
    assert result.code == 0, result.err
    assert Path("out.csv").is_file()


def test_unseen_category_is_refused_when_asked(lightkit, churn_run: Path):
    _new_rows_with_an_unseen_region()
    result = lightkit(
        "predict", "--ckpt_path", str(churn_run), "--data.path", "new.csv", "--data.unseen", "error",
        "--run.output", "out.csv",
    )
    assert_clean(result, 1, "'atlantis'", "column 'region'", "line 5 of new.csv", "never seen in training")
    assert not Path("out.csv").exists()


def test_prediction_path_that_cannot_be_written(lightkit, churn_run: Path):
    Path("blocker").write_text("a file, so blocker/ cannot be a directory")
    result = lightkit(
        "predict", "--ckpt_path", str(churn_run), "--data.path", str(CHURN_NEW), "--run.output", "blocker/out.csv"
    )
    assert_clean(result, 1, "cannot write predictions", "'blocker/out.csv'", "--run.output")


# -- the traceback is there when asked for ------------------------------------------------------------------
def test_debug_flag_shows_the_traceback(lightkit, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LIGHTKIT_DEBUG", "0")  # restored afterwards: --debug sets it for the process
    with pytest.raises(Exception, match="fast"):  # the original exception, for its traceback
        lightkit("--debug", "fit", "--config", WINE, "--model.lr", "fast")


def test_unexpected_errors_are_one_line_with_the_debug_hint(lightkit, monkeypatch: pytest.MonkeyPatch):
    """An error lightkit has no translation for still ends in a short message, not a traceback."""
    result = lightkit("fit", "--config", WINE, "--trainer.accelerator", "tpux", *FAST)
    assert_clean(result, 1, "ValueError", "tpux", "--debug")
