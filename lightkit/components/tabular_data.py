"""The shared base of the built-in table data modules: columns, splits, preprocessing, shape."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

from lightkit.components import trainable
from lightkit.components.preprocessing import RawSplit, TabularPreprocessor, infer_task
from lightkit.data.heap import release_free_memory
from lightkit.data.in_memory import InMemoryDataModule, Split
from lightkit.data.lazy import LazyModule
from lightkit.data.splits import holdout
from lightkit.errors import ConfigError, DataError
from lightkit.registry import suggest

pd = LazyModule("pandas")

__all__ = ["TabularDataModule"]


class TabularDataModule(InMemoryDataModule):
    """Base for data modules over one table: subclasses say how to read it.

    Preprocessing is fitted on the train split only and travels with checkpoints through
    ``state_dict``, so predicting on new rows applies exactly the training transform.

    Args:
        target: Target column, or several (multilabel tags or several regression targets).
        features: Feature columns; by default every column but the targets and the id column.
        categorical: Categorical feature columns; by default the non-numeric features.
        id_column: Column kept in prediction files to identify rows; by default the row index.
        task: Learning task; ``auto`` infers it from the target columns.
        categorical_encoding: ``onehot`` adds one column per category to ``x``; ``embedding``
            passes category indices as ``x_cat`` for models that embed them.
        missing: How empty numeric cells are handled: ``error`` refuses them, naming the cell;
            ``impute`` fills them with the train-split mean. Empty categorical cells always map
            to the unknown category.
        val_fraction: Fraction of rows held out for validation.
        test_fraction: Fraction of rows held out for testing.
        batch_size: Rows per training batch.
        eval_batch_size: Rows per evaluation batch; defaults to ``4 * batch_size``.
        seed: Seed of the split and of the shuffling.
    """

    def __init__(
        self,
        target: str | list[str],
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        id_column: str | None = None,
        task: Literal["auto", "binary", "multiclass", "multilabel", "regression"] = "auto",
        categorical_encoding: Literal["onehot", "embedding"] = "onehot",
        missing: Literal["error", "impute"] = "error",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        seed: int = 42,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"data.{name} must be in [0, 1), got {value}")
        if val_fraction + test_fraction >= 1.0:
            raise ConfigError(
                f"data.val_fraction + data.test_fraction must leave rows to train on, got "
                f"{val_fraction} + {test_fraction}"
            )
        self.targets = [target] if isinstance(target, str) else list(target)
        trainable.check_column_roles(self.targets, features, categorical, id_column)
        self.features = features
        self.categorical = categorical
        self.id_column = id_column
        self.task = task
        self.categorical_encoding = categorical_encoding
        self.missing = missing
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.preprocessor: TabularPreprocessor | None = None
        self._frame: pd.DataFrame | None = None
        self._split_rows: dict[str, np.ndarray] = {}
        #: every split cut out of the table while the preprocessing was fitted on it (cells checked);
        #: their numeric blocks become the splits' ``x`` in place
        self._raw: dict[str, RawSplit] | None = None
        self.predict_ids: list[Any] = []
        #: (index, count, seed) while cross-validating; see :meth:`set_fold`
        self.fold: tuple[int, int, int] | None = None

    # -- what subclasses provide -----------------------------------------------------------------
    def read_frame(self) -> pd.DataFrame:
        """The labelled table that is split into train, validation and test."""
        raise NotImplementedError

    def read_targets(self) -> pd.DataFrame | None:
        """The target columns alone (all rows, in the table's order), where reading them is cheap.

        Then the rows are split before the table is read, so that the split's temporaries (a
        few integers per row, about two thirds of a 32-column float32 table) are gone by the
        time the table is in memory; the table's own target columns must then equal these, or
        it is split again. ``None`` (the default): the table is read first and split from its
        own target columns.
        """
        return None

    def read_predict_frame(self) -> pd.DataFrame:
        """The rows to predict; by default the test split."""
        frame = self._labelled()
        return frame.iloc[self._split_rows["test"]]

    # -- columns and state -------------------------------------------------------------------------
    def _labelled(self) -> pd.DataFrame:
        if self._frame is None:
            targets = self.read_targets()
            if targets is not None:  # the split's temporaries are gone before the table is read
                self._split_rows = self._split(targets)
                release_free_memory()
            frame = self.read_frame()
            self._check_columns(frame, self.targets, "target")
            self._frame = frame
            if targets is None or not targets.equals(frame[self.targets]):  # read alike, or split again
                self._split_rows = self._split(frame)
        return self._frame

    def _check_columns(self, frame: pd.DataFrame, wanted: list[str], what: str) -> None:
        missing = [c for c in wanted if c not in frame.columns]
        if not missing:
            return
        source = frame.attrs.get("source", "the data")
        columns = [str(c) for c in frame.columns]
        hint = f"columns are {columns[:12]}{' ...' if len(columns) > 12 else ''}."
        close = suggest(missing[0], columns)
        if close:
            hint = f"did you mean {close[0]!r}? " + hint
        if len(columns) == 1:
            sep = next((s for s in (";", "\t", "|", ",") if s in columns[0]), None)
            if sep is not None:
                hint = f"the file has one column {columns[0]!r}; it looks {sep!r}-delimited: pass --data.delimiter {sep!r}."
        raise DataError(f"{what} column {missing[0]!r} not found in {source}", hint)

    def _infer_columns(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        excluded = {*self.targets, *([self.id_column] if self.id_column else [])}
        features = self.features or [c for c in frame.columns if c not in excluded]
        self._check_columns(frame, features, "feature")
        if self.categorical is not None:
            self._check_columns(frame, self.categorical, "categorical")
            categorical = [c for c in features if c in set(self.categorical)]
        else:
            categorical = [c for c in features if _looks_categorical(frame[c])]
        numeric = [c for c in features if c not in set(categorical)]
        if not features:
            raise DataError(f"no feature columns left in {frame.attrs.get('source', 'the data')}")
        return numeric, categorical

    def _split(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        rows = np.arange(len(frame))
        task = self.task if self.task != "auto" else infer_task(frame[self.targets])
        stratify = frame[self.targets[0]].to_numpy() if task in ("binary", "multiclass") else None

        def cut(idx: np.ndarray, fraction: float, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            if fraction <= 0:
                return idx, idx[:0]
            try:
                return holdout(idx, fraction, self.seed, labels)
            except ValueError:  # a class too small to stratify: fall back to a plain random split
                pass
            try:
                return holdout(idx, fraction, self.seed)
            except ValueError:
                raise DataError(
                    f"{frame.attrs.get('source', 'the data')} has {len(frame)} data rows: too few to hold out "
                    f"val_fraction {self.val_fraction} and test_fraction {self.test_fraction} and still train",
                    "add rows, or lower --data.val_fraction / --data.test_fraction.",
                ) from None

        rest, test = cut(rows, self.test_fraction, stratify)
        rest_labels = stratify[rest] if stratify is not None else None
        if self.fold is not None:
            from lightkit.data.folds import fold_split

            train, val = fold_split(rest, rest_labels, *self.fold)
        else:
            train, val = cut(rest, self.val_fraction / (1.0 - self.test_fraction), rest_labels)
        return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}

    def fit_preprocessor(self) -> TabularPreprocessor:
        """Fit the preprocessing on the train split (once) and return it."""
        if self.preprocessor is None:
            frame = self._labelled()
            if len(frame) < 3:
                raise DataError(
                    f"{frame.attrs.get('source', 'the data')} has {len(frame)} data rows; "
                    "at least 3 are needed to train, validate and test"
                )
            numeric, categorical = self._infer_columns(frame)
            task = self.task if self.task != "auto" else infer_task(frame[self.targets])
            trainable.check_target(frame, self.targets, task)  # fitting means training: can it learn?
            trainable.check_train_classes(frame, self.targets, task, self._split_rows["train"])
            preprocessor = TabularPreprocessor(
                numeric=numeric,
                categorical=categorical,
                targets=self.targets,
                task=task,
                encoding=self.categorical_encoding,
                missing=self.missing,
            )
            # the splits are cut out of the frame column by column as it is emptied (the frame and
            # the splits never both hold the table); the frame is read again if asked for later
            owned, self._frame = frame.copy(deep=False), None  # its columns deleted, a caller's frame stays whole
            del frame
            self._raw = preprocessor.fit_and_cut(owned, self._split_rows)
            self.preprocessor = preprocessor
        return self.preprocessor

    @property
    def data_shape(self) -> dict[str, Any]:
        """Task and sizes the model needs (see :mod:`lightkit.data.shape`)."""
        pp = self.fit_preprocessor()
        return {
            "task": pp.task,
            "num_features": pp.num_features,
            "num_outputs": pp.num_outputs,
            "category_sizes": pp.category_sizes if pp.encoding == "embedding" else None,
            "target_mean": pp.target_mean or None,
            "target_std": pp.target_std or None,
        }

    def set_fold(self, index: int, count: int, seed: int) -> None:
        """Cross-validation protocol (see :mod:`lightkit.cli.cv`): validate on fold ``index`` of ``count``.

        The test split stays as it is; the other rows are cut into ``count`` folds (stratified for
        classification, shuffled with ``seed``), ``val_fraction`` is not used, and preprocessing is
        fitted again on the new train split.
        """
        if self.fold == (index, count, seed):
            return
        self.fold = (index, count, seed)
        self._frame, self._split_rows, self.preprocessor = None, {}, None
        self._raw = None
        self._splits.clear()

    def state_dict(self) -> dict[str, Any]:
        """The fitted preprocessing (and the fold, when cross-validating), saved into every checkpoint."""
        state = {"preprocessor": self.preprocessor.state_dict()} if self.preprocessor is not None else {}
        if self.fold is not None:
            state["fold"] = list(self.fold)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore preprocessing fitted in training, so new rows get the same transform."""
        if state_dict.get("fold"):
            self.set_fold(*state_dict["fold"])
        if state_dict.get("preprocessor"):
            self.preprocessor = TabularPreprocessor.from_state_dict(state_dict["preprocessor"])

    # -- tensors -------------------------------------------------------------------------------------
    def _tensors(self, frame: pd.DataFrame, with_targets: bool) -> Split:
        pp = self.fit_preprocessor()
        arrays = pp.transform_features(frame)
        if with_targets:
            arrays["y"] = pp.transform_targets(frame)
            if pp.task == "binary":
                arrays["y"] = arrays["y"].reshape(-1, 1)
        return {name: torch.from_numpy(_owned(a)) for name, a in arrays.items()}

    def _raw_tensors(self, raw: RawSplit) -> Split:
        """Tensors of a split cut out while fitting; its numeric block is standardised in place."""
        pp = self.preprocessor
        arrays = pp.features_from(raw.numeric, raw.codes)
        arrays["y"] = raw.y.reshape(-1, 1) if pp.task == "binary" else raw.y
        return {name: torch.from_numpy(_owned(a)) for name, a in arrays.items()}

    def build_splits(self, stage: str | None) -> dict[str, Split]:
        """Tensors of the splits ``stage`` needs."""
        self.fit_preprocessor()
        if stage == "predict":
            frame = self.read_predict_frame()
            trainable.check_rows_to_predict(frame)
            self._check_columns(frame, [*self.preprocessor.numeric, *self.preprocessor.categorical], "feature")
            unseen = self.preprocessor.unseen_categories(frame)
            if unseen:
                listed = "; ".join(f"{c}: {', '.join(map(repr, v[:5]))}" for c, v in unseen.items())
                rank_zero_warn(f"categories never seen in training are encoded as unknown ({listed})")
            self.predict_ids = (
                frame[self.id_column].tolist() if self.id_column in frame.columns else frame.index.tolist()
            )
            has_targets = all(t in frame.columns for t in self.targets)
            return {"predict": self._tensors(frame, with_targets=has_targets)}
        raw, self._raw = self._raw, None
        if raw is None:  # preprocessing from a checkpoint: each split is checked as it is transformed
            self._labelled()
        trainable.check_needed_splits(self, stage, self._split_rows)
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(
            stage or "fit", ("train", "val", "test")
        )
        if raw is not None:  # cut out while fitting, cells checked; the splits not wanted are dropped
            return {name: self._raw_tensors(raw.pop(name)) for name in wanted}
        frame = self._labelled()
        splits = {name: self._tensors(frame.iloc[self._split_rows[name]], with_targets=True) for name in wanted}
        # the tensors hold all that training needs: drop the frame (read again if asked for)
        self._frame = None
        return splits

    def describe_predictions(self, predictions: torch.Tensor) -> dict[str, list[Any]]:
        """Columns of the prediction file: the row ids, then labels and probabilities or values."""
        pp = self.fit_preprocessor()
        values = predictions.detach().cpu().double().numpy()
        # with limit_predict_batches or fast_dev_run the loader yields a prefix of the rows, in order
        columns: dict[str, list[Any]] = {self.id_column or "row": list(self.predict_ids)[: len(values)]}
        if pp.task == "binary":
            positive = values.reshape(-1)
            columns["prediction"] = [pp.classes[int(p >= 0.5)] for p in positive]
            columns[f"prob_{pp.classes[0]}"] = (1.0 - positive).tolist()
            columns[f"prob_{pp.classes[1]}"] = positive.tolist()
        elif pp.task == "multiclass":
            columns["prediction"] = [pp.classes[i] for i in values.argmax(axis=1)]
            for i, label in enumerate(pp.classes):
                columns[f"prob_{label}"] = values[:, i].tolist()
        elif pp.task == "multilabel":
            for i, tag in enumerate(pp.targets):
                columns[tag] = (values[:, i] >= 0.5).astype(int).tolist()
            for i, tag in enumerate(pp.targets):
                columns[f"prob_{tag}"] = values[:, i].tolist()
        else:
            for i, target in enumerate(pp.targets):
                columns[target] = values.reshape(len(values), -1)[:, i].tolist()
        return columns


    # -- serving (``lightkit serve``; see docs/serving.md) -------------------------------------------
    def serving_schema(self) -> dict[str, Any]:
        """One request row of ``lightkit serve``: the feature columns of training, with their types.

        Numeric columns are numbers (``null`` allowed with ``missing='impute'``); categorical
        columns are strings, ``null`` meaning the unknown category.
        """
        pp = self.fit_preprocessor()
        fields: dict[str, dict[str, Any]] = {}
        for column, mean, std in zip(pp.numeric, pp.mean, pp.std, strict=True):
            fields[column] = {
                "type": "number",
                "nullable": pp.missing == "impute",
                "description": f"Numeric feature (train mean {mean:.4g}, std {std:.4g}).",
                "example": float(f"{mean:.4g}"),
            }
        for column in pp.categorical:
            seen = pp.vocab[column][1:]
            fields[column] = {
                "type": "string",
                "nullable": True,
                "description": "Categorical feature.",
                "categories": seen,
                "example": seen[0] if seen else None,
            }
        labels = pp.classes or (pp.targets if pp.task == "multilabel" else None)
        return {"fields": fields, "id_field": self.id_column, "labels": labels}

    def rows_to_batch(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The batch ``predict_step`` takes for request rows, through the preprocessing of training.

        Categories never seen in training are encoded as unknown, with a warning naming them, or
        refused when the data module says ``unseen='error'``.

        Raises:
            DataError: A value the preprocessing cannot use; the message names the row and column.
        """
        pp = self.fit_preprocessor()
        frame = pd.DataFrame.from_records(rows, columns=[*pp.numeric, *pp.categorical])
        frame.attrs["source"] = "the request"
        if getattr(self, "unseen", "unknown") == "error" and (first := pp.first_unseen(frame)):
            raise DataError(
                f"{first} was never seen in training",
                "send a category of training (see /info), or serve a model trained with data.unseen unknown.",
            )
        unseen = pp.unseen_categories(frame)
        if unseen:
            listed = "; ".join(f"{c}: {', '.join(map(repr, v[:5]))}" for c, v in unseen.items())
            rank_zero_warn(f"categories never seen in training are encoded as unknown ({listed})")
        return self._tensors(frame, with_targets=False)

def _owned(array: np.ndarray) -> np.ndarray:
    """``array`` itself when a tensor may share it (C order, writable), else a copy."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.array(array, copy=True, order="C")


def _looks_categorical(column: pd.Series) -> bool:
    """Non-numeric columns are categorical, unless nearly all their values parse as numbers."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return False
    present = column.dropna()
    if present.empty:
        return False
    parsed = pd.to_numeric(present, errors="coerce").notna().mean()
    return parsed < 0.9
