"""Validation at the boundary: numbers outside their domain and data that cannot train.

Every case is refused before Lightning or torch sees the value, with lightkit's short message:
the value, where it came from, and what is valid. Inputs are byte-identical afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS, FAST
from test_bad_inputs import CHURN, CHURN_CSV, Row, assert_clean

WINE = str(CONFIGS / "wine_mlp.yaml")
CHURN_AT = ("--config", CHURN, "--data.path", str(CHURN_CSV))

NUMBERS = {
    "lr negative": Row(("--model.lr", "-1"), 2, ("model.lr must be a finite number > 0", "got -1.0", "from --model.lr")),
    "lr zero": Row(("--model.lr", "0"), 2, ("model.lr must be a finite number > 0", "got 0.0")),
    "lr nan": Row(("--model.lr", "nan"), 2, ("model.lr", "'nan' is not a finite number", "from --model.lr")),
    "lr .inf in a file": Row(
        ("--config", "bad.yaml"), 2, ("model.lr must be a finite number > 0", "got inf", "bad.yaml, line 3"),
        {"bad.yaml": "model:\n  init_args:\n    lr: .inf\n"},
    ),
    "weight decay negative": Row(("--model.weight_decay", "-0.1"), 2, ("model.weight_decay", ">= 0", "got -0.1")),
    "hidden size zero": Row(("--model.hidden_sizes", "[16, 0]"), 2, ("model.hidden_sizes", "integers >= 1", "[16, 0]")),
    "embedding dim zero": Row(("--model.embedding_dim", "0"), 2, ("model.embedding_dim", "an integer >= 1", "got 0")),
    "dropout one": Row(("--model.dropout", "1"), 2, ("model.dropout must be in [0, 1)", "got 1.0")),
    "negative seed": Row(("--data.seed", "-1"), 2, ("data.seed", "[0, 4294967295]", "got -1", "from --data.seed")),
    "val fraction nan": Row(("--data.val_fraction", "nan"), 2, ("data.val_fraction", "not a finite number")),
    "batch size zero": Row(("--data.batch_size", "0"), 2, ("data.batch_size must be at least 1", "got 0")),
}  # fmt: skip


@pytest.mark.parametrize("row", NUMBERS.values(), ids=NUMBERS.keys())
def test_numbers_outside_their_domain(lightkit, row: Row):
    for name, text in row.files.items():
        Path(name).write_text(text)
    before = {name: Path(name).read_bytes() for name in row.files}
    assert_clean(lightkit("fit", "--config", WINE, *row.args, *FAST), row.code, *row.words)
    assert {name: Path(name).read_bytes() for name in row.files} == before
    assert not Path("runs").exists()


def _one_class_csv() -> None:
    lines = CHURN_CSV.read_text().splitlines()
    Path("one.csv").write_text("\n".join([lines[0]] + [line[: line.rindex(",")] + ",1" for line in lines[1:]]) + "\n")


DATA = {
    "one-class target": (
        ("fit", "--config", CHURN, "--data.path", "one.csv", *FAST),
        1, ("target column 'churned'", "one.csv", "one class (1)", "nothing to learn"),
    ),
    "id column that is the target": (
        ("fit", *CHURN_AT, "--data.id_column", "churned", *FAST),
        2, ("data.id_column 'churned' is also the target", "from --data.id_column"),
    ),
    "id column among the features": (
        ("fit", *CHURN_AT, "--data.features", "[customer_id, plan, tenure_months]", *FAST),
        2, ("data.id_column 'customer_id' is also listed in data.features",),
    ),
    "target among the features": (
        ("fit", *CHURN_AT, "--data.features", "[plan, churned]", *FAST),
        2, ("target column 'churned' is also listed in data.features",),
    ),
    "no features": (("fit", *CHURN_AT, "--data.features", "[]", *FAST), 2, ("data.features is an empty list",)),
    "empty validation split with a monitor": (
        ("fit", "--config", WINE, "--data.val_fraction", "0", "--trainer.max_epochs", "1"),
        1, ("validation split is empty", "data.val_fraction 0.0", "'val_loss'", "--data.val_fraction"),
    ),
    "empty test split for test": (
        ("test", "--config", WINE, "--data.test_fraction", "0", *FAST),
        1, ("the test split is empty", "data.test_fraction 0.0"),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("args", "code", "words"), DATA.values(), ids=DATA.keys())
def test_data_that_cannot_train(lightkit, args: tuple[str, ...], code: int, words: tuple[str, ...]):
    _one_class_csv()
    before = {p: Path(p).read_bytes() for p in ("one.csv", str(CHURN_CSV))}
    assert_clean(lightkit(*args), code, *words)
    assert {p: Path(p).read_bytes() for p in before} == before
    assert not list(Path("runs").rglob("*.ckpt")) if Path("runs").exists() else True


def test_a_train_split_of_one_class(lightkit):
    """Two classes in the file, but the one row of the rare class is held out (row 8 goes to test)."""
    lines = CHURN_CSV.read_text().splitlines()[:11]
    rows = [line[: line.rindex(",")] + ",0" for line in lines[1:]]
    rows[8] = rows[8][:-1] + "1"
    Path("rare.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    result = lightkit("fit", "--config", CHURN, "--data.path", "rare.csv", "--data.val_fraction", "0.1", *FAST)
    assert_clean(result, 1, "train split of", "rare.csv", "all of class", "--data.val_fraction")
