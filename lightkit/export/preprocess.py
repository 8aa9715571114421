"""``Preprocess``: ``preprocess.json`` applied to raw rows, with numpy and pandas only.

Rows become the model's input arrays exactly as the data module's fitted transform made them in
training (the export's parity check compares the two), and the model's output becomes the columns
of ``predictions.csv`` that ``lightkit predict --ckpt_path`` writes. No torch, no Lightning, and
no lightkit component is imported here: this is the deployment side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lightkit.errors import DataError
from lightkit.export.spec import complete_spec, read_spec

__all__ = ["Preprocess", "read_csv"]


def _where(frame: pd.DataFrame, position: int) -> str:
    """A human pointer to a row: the CSV line when the frame came from a file, else the row label."""
    line, label = frame.attrs.get("first_line"), frame.index[position]
    source = frame.attrs.get("source", "the data")
    if line is not None and isinstance(label, (int, np.integer)):
        return f"line {int(label) + line} of {source}"
    return f"row {label!r} of {source}"


def read_csv(path: str | Path, delimiter: str = ",") -> pd.DataFrame:
    """Read rows to predict the way lightkit's CSV data modules read them.

    Raises:
        DataError: The file is missing, empty, not UTF-8 or not parseable with ``delimiter``.
    """
    path = Path(path)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise DataError(
            f"CSV file {str(path)!r} (from --data.path) {what}",
            "check the path; relative paths are taken from the current directory.",
        )
    try:
        frame = pd.read_csv(path, sep=delimiter, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {str(path)!r} is empty", "it needs a header line and data rows.") from None
    except pd.errors.ParserError as err:
        detail = " ".join(str(err).split()).removeprefix("Error tokenizing data. C error: ")
        raise DataError(
            f"CSV file {str(path)!r} cannot be parsed: {detail}",
            f"every line needs the header's number of {delimiter!r}-separated fields; pass --data.delimiter "
            "if the file uses another separator.",
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"CSV file {str(path)!r} is not UTF-8 text", "save it as UTF-8 CSV.") from None
    if frame.empty:
        raise DataError(f"CSV file {str(path)!r} has a header but no data rows")
    frame.attrs["source"] = str(path)
    frame.attrs["first_line"] = 2
    return frame


class Preprocess:
    """The transform and the prediction columns that a ``preprocess.json`` describes.

    Args:
        spec: The parsed ``preprocess.json`` (checked and completed on the way in).
        id_column: Overrides the spec's id column (the column kept in the prediction file).
    """

    def __init__(self, spec: dict[str, Any], id_column: str | None = None) -> None:
        self.spec = complete_spec(spec)
        self.id_column: str | None = id_column or self.spec.get("id_column")
        self.output: dict[str, Any] = self.spec["output"]

    @classmethod
    def from_file(cls, path: str | Path, id_column: str | None = None) -> Preprocess:
        """Read ``preprocess.json``; see :func:`lightkit.export.spec.read_spec` for what it raises."""
        return cls(read_spec(path), id_column=id_column)

    @property
    def input_names(self) -> list[str]:
        """The model's inputs, in order: the ONNX graph's input names."""
        return [entry["name"] for entry in self.spec["inputs"]]

    @property
    def columns(self) -> list[str]:
        """The raw columns a row needs."""
        return [c["name"] for c in self.spec["columns"]]

    @property
    def delimiter(self) -> str:
        """The field separator of the training file."""
        return self.spec["reader"]["delimiter"]

    # -- rows to arrays ---------------------------------------------------------------------------------
    def check_columns(self, frame: pd.DataFrame) -> None:
        """Refuse rows that lack a column the model needs, naming it."""
        have = {str(c) for c in frame.columns}
        missing = [c for c in self.columns if c not in have]
        if missing:
            listed = [str(c) for c in frame.columns][:12]
            raise DataError(
                f"feature column {missing[0]!r} not found in {frame.attrs.get('source', 'the data')}"
                + (f" ({len(missing)} missing in all)" if len(missing) > 1 else ""),
                f"predicting needs every column the model was trained on; columns are {listed}.",
            )

    def transform(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model's input arrays for ``frame``, by input name.

        Raises:
            DataError: A column is missing, a numeric cell is not a number, infinite, or empty
                (unless the spec imputes it), or an unseen category where the spec refuses them.
        """
        self.check_columns(frame)
        arrays: dict[str, np.ndarray] = {}
        for entry in self.spec["inputs"]:
            dtype = np.dtype(entry["dtype"])
            blocks = [self._part(frame, part, dtype) for part in entry["parts"]]
            block = np.concatenate(blocks, axis=1) if blocks else np.empty((len(frame), 0), dtype=dtype)
            arrays[entry["name"]] = np.ascontiguousarray(block.astype(dtype, copy=False))
        return arrays

    def _part(self, frame: pd.DataFrame, part: dict[str, Any], dtype: np.dtype) -> np.ndarray:
        if part["kind"] == "numeric":
            return self._numeric(frame, part)
        codes = self._codes(frame, part)
        if part["kind"] == "onehot":
            return np.eye(len(part["vocabulary"]), dtype=dtype)[codes]
        return codes.reshape(-1, 1)

    def _numeric(self, frame: pd.DataFrame, part: dict[str, Any]) -> np.ndarray:
        columns = part["columns"]
        compute = np.dtype(part.get("compute", "float32"))
        block = np.empty((len(frame), len(columns)), dtype=compute)
        for j, column in enumerate(columns):
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = values.isna() & frame[column].notna()
            if bad.any():
                pos = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(
                    f"non-numeric value {frame[column].iloc[pos]!r} in numeric column {column!r} at "
                    f"{_where(frame, pos)}",
                    "the model was trained on numbers in this column; fix the value.",
                )
            block[:, j] = values.to_numpy(dtype=compute, na_value=np.nan)
        infinite = np.isinf(block)
        if infinite.any():
            row, col = (int(i) for i in np.argwhere(infinite)[0])
            raise DataError(
                f"infinite value in numeric column {columns[col]!r} at {_where(frame, row)}",
                "replace it with a finite number.",
            )
        empty = np.isnan(block)
        if empty.any():
            if part.get("missing", "error") != "impute":
                row, col = (int(i) for i in np.argwhere(empty)[0])
                raise DataError(
                    f"empty or NaN cell in numeric column {columns[col]!r} at {_where(frame, row)} "
                    f"({int(empty.sum())} such cells in all)",
                    "fill the cells: the model was trained without imputation (--data.missing error).",
                )
            block = np.where(empty, np.asarray(part["fill"], dtype=compute), block)
        return (block - np.asarray(part["mean"], dtype=compute)) / np.asarray(part["std"], dtype=compute)

    def _codes(self, frame: pd.DataFrame, part: dict[str, Any]) -> np.ndarray:
        column, vocabulary = part["column"], part["vocabulary"]
        unknown = int(part.get("unknown", 0))
        values = frame[column].astype("string")
        lookup = {value: i for i, value in enumerate(vocabulary)}
        codes = values.map(lookup)
        if part.get("unseen", "unknown") == "error":
            unseen = values.notna() & codes.isna()
            if unseen.any():
                pos = int(np.flatnonzero(unseen.to_numpy())[0])
                raise DataError(
                    f"category {values.iloc[pos]!r} in column {column!r} at {_where(frame, pos)} was never "
                    "seen in training",
                    "fix the value; the model was exported with --data.unseen error.",
                )
        return codes.fillna(unknown).to_numpy(dtype=np.int64)

    def unseen(self, frame: pd.DataFrame) -> dict[str, list[str]]:
        """Per categorical column, the values in ``frame`` that training never saw (encoded as unknown)."""
        found: dict[str, list[str]] = {}
        for entry in self.spec["inputs"]:
            for part in entry["parts"]:
                if (
                    part["kind"] == "numeric"
                    or part.get("unseen") == "error"
                    or part["column"] not in frame.columns
                ):
                    continue
                values = set(frame[part["column"]].dropna().astype(str).unique()) - set(part["vocabulary"])
                if values:
                    found.setdefault(part["column"], sorted(values))
        return found

    # -- output to columns --------------------------------------------------------------------------------
    def ids(self, frame: pd.DataFrame) -> list[Any]:
        """The row ids of the prediction file: the id column when ``frame`` has it, else the row index."""
        if self.id_column is not None and self.id_column in frame.columns:
            return frame[self.id_column].tolist()
        return frame.index.tolist()

    def describe(self, output: np.ndarray, ids: list[Any]) -> dict[str, list[Any]]:
        """The columns of ``predictions.csv`` for the model's ``output``, as ``lightkit predict`` has them."""
        values = np.asarray(output, dtype=np.float64).reshape(len(output), -1)
        kind, labels = self.output["kind"], self.output.get("labels") or []
        columns: dict[str, list[Any]] = {self.id_column or "row": list(ids)}
        if kind == "binary":
            positive = values.reshape(-1)
            chosen = positive >= self.output["threshold"]
            columns["prediction"] = [labels[1] if c else labels[0] for c in chosen.tolist()]
            columns[f"prob_{labels[0]}"] = (1.0 - positive).tolist()
            columns[f"prob_{labels[1]}"] = positive.tolist()
        elif kind == "multiclass":
            columns["prediction"] = [labels[i] for i in values.argmax(axis=1).tolist()]
            for i, label in enumerate(labels):
                columns[f"prob_{label}"] = values[:, i].tolist()
        elif kind == "multilabel":
            for i, tag in enumerate(labels):
                columns[tag] = (values[:, i] >= self.output["threshold"]).astype(int).tolist()
            for i, tag in enumerate(labels):
                columns[f"prob_{tag}"] = values[:, i].tolist()
        elif kind == "regression":
            for i, target in enumerate(labels):
                columns[target] = values[:, i].tolist()
        else:
            for i in range(values.shape[1]):
                columns[f"pred_{i}"] = values[:, i].tolist()
        return columns

    def label_columns(self) -> list[str]:
        """The columns that hold decisions (labels, 0/1 tags) rather than numbers."""
        kind, labels = self.output["kind"], self.output.get("labels") or []
        if kind in ("binary", "multiclass"):
            return ["prediction"]
        return list(labels) if kind == "multilabel" else []
