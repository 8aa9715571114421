"""Whether a table can train what it is asked to: checked before a Trainer starts, said plainly.

A table can parse cleanly and still be unable to train anything meaningful. The built-in data
modules refuse, with the column, the file and what to change:

* a column given two roles: the id column also a target or a feature, a target also a feature;
* a classification target with one class (every row says the same), or a regression target with
  the same value in every row: there is nothing to learn;
* a train split that holds one class only, when the table has more;
* an empty validation split when the run monitors a validation metric (``best.ckpt``, early
  stopping), an empty test split for ``lightkit test``, and no rows to predict.
"""

from __future__ import annotations

from typing import Any

from lightkit.errors import ConfigError, DataError

__all__ = [
    "check_column_roles",
    "check_needed_splits",
    "check_rows_to_predict",
    "check_target",
    "check_train_classes",
]


def check_column_roles(
    targets: list[str], features: list[str] | None, categorical: list[str] | None, id_column: str | None
) -> None:
    """Each column has one role: target, feature or id.

    Raises:
        ConfigError: A role list is empty, or a column is given two roles.
    """
    if not targets or any(not isinstance(t, str) or not t for t in targets):
        raise ConfigError(f"data.target must name at least one column, got {targets!r}")
    if features is not None and not features:
        raise ConfigError(
            "data.features is an empty list, so there is nothing to learn from",
            "leave data.features out to use every column but the target and the id column.",
        )
    if id_column is not None and id_column in targets:
        raise ConfigError(
            f"data.id_column {id_column!r} is also the target",
            "the id column only names rows in prediction files; choose another id column, or leave it out.",
        )
    for name, listed in (("data.features", features), ("data.categorical", categorical)):
        for column in listed or []:
            if column == id_column:
                raise ConfigError(
                    f"data.id_column {id_column!r} is also listed in {name}",
                    "an id identifies rows and predicts nothing: drop it from "
                    f"{name}, or choose another id column.",
                )
            if column in targets:
                raise ConfigError(
                    f"target column {column!r} is also listed in {name}",
                    f"a model that sees its target as a feature learns nothing; drop it from {name}.",
                )


def check_target(frame: Any, targets: list[str], task: str) -> None:
    """The target has something to learn: two classes or more, or values that vary.

    Raises:
        DataError: One class, or one value, in the whole table.
    """
    source = frame.attrs.get("source", "the data")
    for column in targets:
        values = frame[column].dropna()
        distinct = values.nunique()
        if task in ("binary", "multiclass") and distinct < 2:
            seen = str(values.iloc[0]) if len(values) else "none"
            raise DataError(
                f"target column {column!r} in {source} has one class ({seen}) in all {len(frame)} rows: "
                "there is nothing to learn",
                "a classifier needs rows of two classes or more; check the file, the target column, "
                "or a filter that dropped the other classes.",
            )
        if task == "regression" and distinct < 2:
            raise DataError(
                f"target column {column!r} in {source} has the same value in all {len(frame)} rows: "
                "there is nothing to learn",
                "check the file and the target column (--data.target).",
            )


def check_train_classes(frame: Any, targets: list[str], task: str, train_rows: Any) -> None:
    """The train split holds two classes or more when the table does.

    Raises:
        DataError: The split left the train rows with one class.
    """
    if task not in ("binary", "multiclass") or not len(train_rows):
        return
    values = frame[targets[0]].iloc[train_rows].dropna()
    if values.nunique() < 2:
        source = frame.attrs.get("source", "the data")
        raise DataError(
            f"the train split of {source} has {len(values)} rows, all of class {values.iloc[0]}",
            "add rows of the other classes, or lower --data.val_fraction / --data.test_fraction.",
        )


def _monitored(trainer: Any) -> list[str]:
    """Validation metrics the trainer's callbacks watch (best checkpoint, early stopping)."""
    names = []
    for callback in getattr(trainer, "callbacks", None) or []:
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("val"):
            names.append(monitor)
    return names


def check_needed_splits(datamodule: Any, stage: str | None, rows: dict[str, Any]) -> None:
    """The splits ``stage`` needs have rows.

    Args:
        datamodule: The data module (its ``trainer``, when attached, says what is monitored).
        stage: ``fit``, ``validate``, ``test`` or ``predict``.
        rows: Row indices of each split.

    Raises:
        DataError: An empty validation split that a monitor needs, an empty test split for
            ``test``, or an empty validation split for ``validate``.
    """
    val, test = len(rows.get("val", ())), len(rows.get("test", ()))
    if stage == "fit" and not val and getattr(datamodule, "fold", None) is None:
        monitored = _monitored(getattr(datamodule, "trainer", None))
        if monitored:
            raise DataError(
                f"the validation split is empty (data.val_fraction {datamodule.val_fraction}), but the run "
                f"monitors {monitored[0]!r} (best checkpoint, early stopping)",
                "set --data.val_fraction above 0 (e.g. 0.2).",
            )
    if stage == "validate" and not val:
        raise DataError(
            f"the validation split is empty (data.val_fraction {datamodule.val_fraction}): "
            "nothing to validate",
            "validate a run trained with --data.val_fraction above 0.",
        )
    if stage == "test" and not test:
        raise DataError(
            f"the test split is empty (data.test_fraction {datamodule.test_fraction}): nothing to test",
            "test a run trained with --data.test_fraction above 0.",
        )


def check_rows_to_predict(frame: Any) -> None:
    """``predict`` has rows to predict.

    Raises:
        DataError: The rows to predict are none (an empty test split, a filtered-out file).
    """
    if len(frame) == 0:
        source = frame.attrs.get("source", "the data")
        raise DataError(
            f"no rows to predict in {source}",
            "predict on a file with rows (--data.path), or on a run whose test split is not empty.",
        )
