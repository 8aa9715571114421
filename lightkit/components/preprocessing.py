"""Tabular preprocessing fitted on the train split only: standardisation and category vocabularies.

The fitted state is plain data (lists, floats, strings), so it travels inside a checkpoint and
loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from lightkit.data.heap import release_free_memory
from lightkit.data.lazy import LazyModule
from lightkit.errors import DataError

pd = LazyModule("pandas")

__all__ = ["RawSplit", "TabularPreprocessor", "TaskName", "infer_task"]

TaskName = Literal["binary", "multiclass", "multilabel", "regression"]

#: index 0 of every category vocabulary: a value never seen in training, or a missing cell
UNKNOWN = "<unknown>"


def _csv_line(frame: pd.DataFrame, position: int) -> str:
    """A human pointer to a row: the CSV line when the frame came from a file, else the row label."""
    line, label = frame.attrs.get("first_line"), frame.index[position]
    if line is not None and isinstance(label, (int, np.integer)):
        return f"line {int(label) + line}"
    return f"row {label!r}"


def infer_task(targets: pd.DataFrame) -> TaskName:
    """Guess the task from the target columns: several 0/1 columns are multilabel, and so on."""
    if targets.shape[1] > 1:
        values = pd.unique(targets.to_numpy().ravel())
        is_binary = set(pd.Series(values).dropna().tolist()) <= {0, 1}
        return "multilabel" if is_binary else "regression"
    column = targets.iloc[:, 0]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return "binary" if column.nunique() == 2 else "multiclass"
    uniques = column.dropna().unique()
    finite = bool(np.all(np.isfinite(uniques.astype(np.float64))))
    is_integral = pd.api.types.is_integer_dtype(column) or (finite and bool(np.all(np.mod(uniques, 1) == 0)))
    if is_integral and len(uniques) <= 20:
        return "binary" if len(uniques) == 2 else "multiclass"
    return "regression"


@dataclass
class RawSplit:
    """One split cut out of a table by :meth:`TabularPreprocessor.fit_and_cut`, before standardising.

    Attributes:
        numeric: The numeric columns as read (float32, C order, cells checked).
        codes: Category indices (int64, a column per categorical column).
        y: The targets, as :meth:`TabularPreprocessor.transform_targets` gives them.
    """

    numeric: np.ndarray
    codes: np.ndarray
    y: np.ndarray


@dataclass
class TabularPreprocessor:
    """Turns a table into model tensors exactly the same way at fit and at predict time.

    Attributes:
        numeric: Numeric feature columns, standardised with train mean and std.
        categorical: Categorical feature columns, mapped through train vocabularies.
        targets: Target columns.
        task: The learning task.
        encoding: ``onehot`` expands categories into the float features; ``embedding``
            passes category indices as ``x_cat`` for the model to embed.
        missing: ``error`` refuses empty numeric cells; ``impute`` fills them with the train mean.
    """

    numeric: list[str]
    categorical: list[str]
    targets: list[str]
    task: TaskName
    encoding: Literal["onehot", "embedding"] = "onehot"
    missing: Literal["error", "impute"] = "error"
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    target_mean: list[float] = field(default_factory=list)
    target_std: list[float] = field(default_factory=list)

    # -- fitting -----------------------------------------------------------------------------
    def fit_and_cut(self, labelled: pd.DataFrame, splits: dict[str, np.ndarray]) -> dict[str, RawSplit]:
        """Fit on the rows ``splits["train"]`` of ``labelled``, and cut every split out of it.

        Feature statistics and vocabularies come from the train rows only, class labels from all
        labelled rows. Every cell is checked first, so a bad cell is reported before training
        starts, whichever split it would land in.

        ``labelled`` is emptied as it is cut: each column is deleted from it once the rows of
        every split are copied, so that with a frame of one block per column (as
        :func:`lightkit.data.tables.read_table` reads it) the table is never held twice. Pass a
        frame nobody else holds (``frame.copy(deep=False)`` of one that is). Returns the raw
        arrays of each split, for :meth:`features_from`.
        """
        self.check_cells(labelled)
        present = [c for c in dict.fromkeys([*self.categorical, *self.targets]) if c in labelled.columns]
        self._fit_labels(labelled[present].iloc[splits["train"]], labelled)
        y = self.transform_targets(labelled)  # every target is checked now, not when its split is used
        codes = self._codes(labelled[self.categorical])
        for column in self.categorical:
            del labelled[column]
        blocks = self._cut_numeric(labelled, splits)
        self._fit_numeric(blocks["train"])
        return {
            name: RawSplit(numeric=blocks[name], codes=codes[rows], y=y[rows])
            for name, rows in splits.items()
        }

    def _cut_numeric(self, labelled: pd.DataFrame, splits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each split's numeric columns as a float32 block (C order), deleting the frame's columns as it goes.

        A frame holds columns and a block holds rows: copying the first column into a block
        touches every page of it, so frame and blocks would both be resident. The rows go through
        column-major tiles instead (written by hand: numpy has no out-of-core transpose): each
        column is copied into the tiles, touching only its part of each, and deleted from the
        frame; then each tile is copied into its rows of the block and freed. The peak is the
        table once, plus a column and a tile.
        """
        width = len(self.numeric)
        step = max(1, _TILE_BYTES // (4 * max(width, 1)))
        tiles = {
            name: [
                np.empty((len(rows[a : a + step]), width), dtype=np.float32, order="F")
                for a in range(0, len(rows), step)
            ]
            for name, rows in splits.items()
        }
        for j, column in enumerate(self.numeric):
            values = self._numeric_column(labelled, column)
            for name, rows in splits.items():
                for t, tile in enumerate(tiles[name]):
                    tile[:, j] = values[rows[t * step : (t + 1) * step]]
            del values, labelled[column]
            release_free_memory()  # the column's memory back to the system before the next is read
        blocks = {}
        for name, rows in splits.items():
            block, parts = np.empty((len(rows), width), dtype=np.float32), tiles[name]
            for t in range(len(parts)):
                block[t * step : (t + 1) * step] = parts[t]
                parts[t] = None  # a tile is its own memory mapping (see _TILE_BYTES): given back now
            blocks[name] = block
        return blocks

    def _fit_numeric(self, numeric: np.ndarray) -> None:
        mean, std = _column_stats(numeric) if len(numeric) else ([], np.array([]))
        self.mean = list(np.asarray(mean).tolist())
        self.std = np.where(std > 1e-12, std, 1.0).tolist()

    def _fit_labels(self, train: pd.DataFrame, labelled: pd.DataFrame) -> None:
        self.vocab = {c: [UNKNOWN, *sorted(train[c].dropna().astype(str).unique())] for c in self.categorical}
        if self.task in ("binary", "multiclass"):
            labels = labelled[self.targets[0]].dropna()
            self.classes = [str(_label(v)) for v in sorted(labels.unique(), key=_sort_key)]
        elif self.task == "regression":
            y = train[self.targets].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
            self.target_mean = y.mean(axis=0).tolist()
            std = y.std(axis=0)
            self.target_std = np.where(std > 1e-12, std, 1.0).tolist()

    def state_dict(self) -> dict[str, Any]:
        """The fitted state as plain data."""
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`state_dict`."""
        return cls(**state)

    # -- shape -------------------------------------------------------------------------------
    @property
    def category_sizes(self) -> list[int]:
        """Vocabulary size per categorical column, unknown included."""
        return [len(self.vocab[c]) for c in self.categorical]

    @property
    def num_features(self) -> int:
        """Width of the float feature tensor."""
        onehot = sum(self.category_sizes) if self.encoding == "onehot" else 0
        return len(self.numeric) + onehot

    @property
    def num_outputs(self) -> int:
        """Output units the model needs."""
        if self.task == "multiclass":
            return len(self.classes)
        return 1 if self.task == "binary" else len(self.targets)

    # -- transforming --------------------------------------------------------------------------
    def _numeric_column(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """One numeric column as float32 (no copy when it is float32 already)."""
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series):  # nothing in it can fail to parse
            return series.to_numpy(dtype=np.float32)
        values = pd.to_numeric(series, errors="coerce")
        bad = values.isna() & series.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"non-numeric value {series.iloc[pos]!r} in numeric column {column!r} "
                f"at {_csv_line(frame, pos)} of {frame.attrs.get('source', 'the data')}",
                f"fix the value, or list {column!r} under --data.categorical to treat it as a category.",
            )
        return values.to_numpy(dtype=np.float32)

    def _numeric_block(self, frame: pd.DataFrame) -> np.ndarray:
        """The numeric columns as one float32 block (C order)."""
        block = np.empty((len(frame), len(self.numeric)), dtype=np.float32)
        for j, column in enumerate(self.numeric):
            block[:, j] = self._numeric_column(frame, column)
        return block

    def check_cells(self, frame: pd.DataFrame) -> None:
        """Refuse bad cells in numeric columns, naming the first one (CSV line and column).

        Refused: non-numeric values, infinite values and, with ``missing='error'``, empty or NaN
        cells. Columns are checked one at a time (no copy of the table); the cell named is the
        one a row-by-row reading meets first.
        """
        infinite: tuple[int, int] | None = None
        empty: tuple[int, int] | None = None
        empty_count = 0
        for j, column in enumerate(self.numeric):
            values = self._numeric_column(frame, column)  # refuses a non-numeric value first, as always
            bad = np.isinf(values)
            if bad.any():
                infinite = min(infinite or (len(values), j), (int(np.argmax(bad)), j))
            bad = np.isnan(values)
            if bad.any():
                empty = min(empty or (len(values), j), (int(np.argmax(bad)), j))
                empty_count += int(bad.sum())
        source = frame.attrs.get("source", "the data")
        if infinite is not None:
            row, col = infinite
            value = str(frame[self.numeric[col]].iloc[row])
            raise DataError(
                f"infinite value {value!r} in numeric column {self.numeric[col]!r} "
                f"at {_csv_line(frame, row)} of {source}",
                "replace it with a finite number, or leave the cell empty and pass --data.missing impute.",
            )
        if empty is not None and self.missing == "error":
            row, col = empty
            raise DataError(
                f"empty or NaN cell in numeric column {self.numeric[col]!r} at {_csv_line(frame, row)} "
                f"of {source} ({empty_count} such cells in all)",
                "fill the cells, or pass --data.missing impute to replace them with the train-split mean.",
            )

    def _refuse_empty(self, frame: pd.DataFrame, numeric: np.ndarray) -> None:
        infinite = np.isinf(numeric)
        if infinite.any():
            row, col = (int(i) for i in np.argwhere(infinite)[0])
            raise DataError(
                f"infinite value {str(frame[self.numeric[col]].iloc[row])!r} in numeric column {self.numeric[col]!r} "
                f"at {_csv_line(frame, row)} of {frame.attrs.get('source', 'the data')}",
                "replace it with a finite number, or leave the cell empty and pass --data.missing impute.",
            )
        empty = np.isnan(numeric)
        if empty.any() and self.missing == "error":
            row, col = (int(i) for i in np.argwhere(empty)[0])
            raise DataError(
                f"empty or NaN cell in numeric column {self.numeric[col]!r} at {_csv_line(frame, row)} "
                f"of {frame.attrs.get('source', 'the data')} ({int(empty.sum())} such cells in all)",
                "fill the cells, or pass --data.missing impute to replace them with the train-split mean.",
            )

    def transform_features(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Features of ``frame`` as arrays ``x`` (float32) and, for embeddings, ``x_cat`` (int64)."""
        numeric = self._numeric_block(frame)
        self._refuse_empty(frame, numeric)
        return self.features_from(numeric, self._codes(frame[self.categorical]))

    def standardise(self, numeric: np.ndarray) -> np.ndarray:
        """Impute (with ``missing='impute'``) and standardise a raw numeric block in place; returns it."""
        mean = np.asarray(self.mean, dtype=np.float32)
        empty = np.isnan(numeric)
        if empty.any():
            np.copyto(numeric, np.broadcast_to(mean, numeric.shape), where=empty)
        del empty
        numeric -= mean
        numeric /= np.asarray(self.std, dtype=np.float32)
        return numeric

    def _codes(self, categories: pd.DataFrame) -> np.ndarray:
        """Category indices (int64, a column per categorical column); unseen or missing values are 0."""
        codes = np.zeros((len(categories), len(self.categorical)), dtype=np.int64)
        for j, column in enumerate(self.categorical):
            lookup = {v: i for i, v in enumerate(self.vocab[column])}
            values = categories[column].astype("string").fillna(UNKNOWN)
            codes[:, j] = values.map(lambda v, lookup=lookup: lookup.get(v, 0)).to_numpy(dtype=np.int64)
        return codes

    def features_from(self, numeric: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
        """Model input from a raw numeric block whose cells were checked, and category indices.

        ``numeric`` is standardised in place and becomes ``x`` itself unless one-hot columns
        are added; nothing else is copied.
        """
        numeric = self.standardise(numeric)
        if self.encoding == "embedding":
            return {"x": numeric, "x_cat": codes}
        if not self.categorical:
            return {"x": numeric}
        x = np.empty((len(numeric), self.num_features), dtype=np.float32)
        x[:, : numeric.shape[1]] = numeric
        start = numeric.shape[1]
        for j, size in enumerate(self.category_sizes):
            x[:, start : start + size] = np.eye(size, dtype=np.float32)[codes[:, j]]
            start += size
        return {"x": x}

    def first_unseen(self, frame: pd.DataFrame) -> str | None:
        """A description of the first category in ``frame`` that training never saw, if any."""
        for column in self.categorical:
            known = set(self.vocab[column])
            values = frame[column].astype("string")
            unseen = values.notna() & ~values.isin(known)
            if unseen.any():
                pos = int(np.flatnonzero(unseen.to_numpy())[0])
                return (
                    f"category {values.iloc[pos]!r} in column {column!r} at {_csv_line(frame, pos)} of "
                    f"{frame.attrs.get('source', 'the data')}"
                )
        return None

    def unseen_categories(self, frame: pd.DataFrame) -> dict[str, list[str]]:
        """Per categorical column, the values in ``frame`` that training never saw."""
        unseen: dict[str, list[str]] = {}
        for column in self.categorical:
            known = set(self.vocab[column])
            values = set(frame[column].dropna().astype(str).unique()) - known
            if values:
                unseen[column] = sorted(values)
        return unseen

    def transform_targets(self, frame: pd.DataFrame) -> np.ndarray:
        """Targets as float32 (binary, multilabel, regression) or int64 class indices (multiclass)."""
        missing = [c for c in self.targets if c not in frame.columns]
        if missing:
            raise DataError(
                f"target column(s) {missing} not found in {frame.attrs.get('source', 'the data')}"
            )
        if self.task in ("binary", "multiclass"):
            lookup = {label: i for i, label in enumerate(self.classes)}
            # one lookup per distinct value, not per row
            codes, uniques = pd.factorize(frame[self.targets[0]], use_na_sentinel=False)
            distinct = pd.Index(uniques).tolist()
            table = np.array([lookup.get(str(_label(v)), -1) for v in distinct], dtype=np.int64)
            labels = pd.Series(table[codes], index=frame.index)
            if (labels < 0).any():
                pos = int(np.flatnonzero((labels < 0).to_numpy())[0])
                value = frame[self.targets[0]].iloc[pos]
                where = f"{_csv_line(frame, pos)} of {frame.attrs.get('source', 'the data')}"
                if pd.isna(value):
                    raise DataError(
                        f"empty target cell in column {self.targets[0]!r} at {where}",
                        "targets must be complete: drop or fix those rows.",
                    )
                raise DataError(
                    f"target {self.targets[0]!r} has value {value!r} at {where}, which is not one of "
                    f"the classes {self.classes[:10]}",
                )
            indices = labels.to_numpy(dtype=np.int64)
            return indices.astype(np.float32) if self.task == "binary" else indices
        values = frame[self.targets].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
        if np.isnan(values).any():
            row, col = (int(i) for i in np.argwhere(np.isnan(values))[0])
            raise DataError(
                f"target column {self.targets[col]!r} has an empty or non-numeric value at "
                f"{_csv_line(frame, row)} of {frame.attrs.get('source', 'the data')}",
                "targets must be complete: drop or fix those rows.",
            )
        return values

    # -- export: preprocess.json (see lightkit.export.spec and docs/exporting.md) --------------------------
    def to_json(self) -> dict[str, Any]:
        """The fitted transform in ``preprocess.json``'s shape: the model inputs, their parts, the output."""
        parts: list[dict[str, Any]] = []
        if self.numeric:
            parts.append(
                {
                    "kind": "numeric",
                    "columns": list(self.numeric),
                    "mean": list(self.mean),
                    "std": list(self.std),
                    "missing": self.missing,
                    "fill": list(self.mean) if self.missing == "impute" else None,
                    "compute": "float32",
                }
            )
        kind = "onehot" if self.encoding == "onehot" else "index"
        categories = [
            {"kind": kind, "column": c, "vocabulary": list(self.vocab[c]), "unknown": 0, "unseen": "unknown"}
            for c in self.categorical
        ]
        onehot = categories if kind == "onehot" else []
        inputs = [{"name": "x", "dtype": "float32", "parts": parts + onehot}]
        if kind == "index" and categories:
            inputs.append({"name": "x_cat", "dtype": "int64", "parts": categories})
        output: dict[str, Any] = {
            "name": "prediction",
            "kind": self.task,
            "labels": list(self.classes) if self.task in ("binary", "multiclass") else list(self.targets),
        }
        if self.task in ("binary", "multilabel"):
            output["threshold"] = 0.5
        if self.task == "regression":
            output["target_scaling"] = {"mean": list(self.target_mean), "std": list(self.target_std)}
        return {"task": self.task, "targets": list(self.targets), "inputs": inputs, "output": output}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_json` (or a ``preprocess.json`` it wrote)."""
        parts = [part for entry in spec["inputs"] for part in entry["parts"]]
        numeric = next((p for p in parts if p["kind"] == "numeric"), None) or {}
        categories = [p for p in parts if p["kind"] in ("onehot", "index")]
        task = spec["task"]
        scaling = spec["output"].get("target_scaling") or {}
        return cls(
            numeric=list(numeric.get("columns", [])),
            categorical=[p["column"] for p in categories],
            targets=list(spec["targets"]),
            task=task,
            encoding="embedding" if any(p["kind"] == "index" for p in categories) else "onehot",
            missing=numeric.get("missing", "error"),
            mean=list(numeric.get("mean", [])),
            std=list(numeric.get("std", [])),
            vocab={p["column"]: list(p["vocabulary"]) for p in categories},
            classes=list(spec["output"]["labels"]) if task in ("binary", "multiclass") else [],
            target_mean=list(scaling.get("mean", [])),
            target_std=list(scaling.get("std", [])),
        )


#: bytes per tile of :meth:`TabularPreprocessor._cut_numeric`: above glibc's largest threshold for
#: serving an allocation from its own memory mapping (32 MiB), so that a freed tile is returned to
#: the system at once rather than kept for reuse
_TILE_BYTES = 64 << 20

#: rows per chunk of :func:`_column_stats`
_STATS_ROWS = 16384


def _column_stats(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nanmean(block, axis=0)`` and ``np.nanstd(block, axis=0)``, bit for bit, in chunks of rows.

    numpy sums a C-ordered block over axis 0 row after row; carrying the running sum into the
    next chunk (``np.add.accumulate``) keeps exactly that order, so the result is the same while
    the temporaries are a chunk, not two copies of the block (tests/test_tabular_formats.py
    compares both).
    """
    count = np.zeros(block.shape[1], dtype=np.intp)
    total: np.ndarray | None = None
    for start in range(0, len(block), _STATS_ROWS):
        part = block[start : start + _STATS_ROWS]
        empty = np.isnan(part)
        count += (~empty).sum(axis=0)
        part = np.where(empty, np.float32(0), part)
        if total is not None:
            part[0] += total
        total = np.add.accumulate(part, axis=0)[-1]
    with np.errstate(invalid="ignore", divide="ignore"):  # an all-empty column: NaN, as nanmean gives
        mean = np.true_divide(total, count, out=total.copy(), casting="unsafe")
        squares: np.ndarray | None = None
        for start in range(0, len(block), _STATS_ROWS):
            part = block[start : start + _STATS_ROWS]
            deviation = np.subtract(part, mean)
            deviation[np.isnan(part)] = 0
            deviation = np.multiply(deviation, deviation, out=deviation)
            if squares is not None:
                deviation[0] += squares
            squares = np.add.accumulate(deviation, axis=0)[-1]
        variance = np.true_divide(squares, count, out=squares.copy(), casting="unsafe")
    return mean, np.sqrt(variance)


def _label(value: Any) -> Any:
    """Class labels compare as strings; ``1.0`` and ``1`` are the same class."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    value = _label(value)
    return (0, value) if isinstance(value, (int, float, np.integer, np.floating)) else (1, str(value))
