"""``CSVDataModule``: a table from a CSV, Parquet or Feather file, for classification or regression."""

from __future__ import annotations

from typing import Literal

from lightkit.components.tabular_data import TabularDataModule
from lightkit.data.lazy import LazyModule
from lightkit.data.tables import TableFormat, read_columns, read_table
from lightkit.errors import DataError

pd = LazyModule("pandas")

__all__ = ["CSVDataModule"]


class CSVDataModule(TabularDataModule):
    """Rows of a CSV, Parquet or Feather file, split into train, validation and test.

    Preprocessing is fitted on the train split. At predict time ``path`` is the file to predict:
    it needs the feature columns only, and the transform fitted in training (from the checkpoint)
    is applied unchanged. The format follows the file's suffix (``.parquet``, ``.feather``;
    anything else is CSV) unless ``format`` says.

    Args:
        path: The table file: CSV, Parquet (``.parquet``, ``.pq``) or Feather (``.feather``, ``.arrow``).
        target: Target column, or several (multilabel tags or several regression targets).
        features: Feature columns; by default every column but the targets and the id column.
        categorical: Categorical feature columns; by default the non-numeric features.
        id_column: Column kept in prediction files to identify rows; by default the row index.
        delimiter: Field separator of a CSV file.
        format: ``auto`` chooses by the file's suffix; ``csv``, ``parquet`` or ``feather`` overrides it.
        task: Learning task; ``auto`` infers it from the target columns.
        categorical_encoding: ``onehot`` adds one column per category; ``embedding`` passes
            category indices for the model to embed.
        missing: Empty numeric cells: ``error`` refuses them, naming the cell; ``impute`` fills
            them with the train-split mean. Empty categorical cells map to the unknown category.
        unseen: Categories at predict time that training never saw: ``unknown`` encodes them as
            the unknown category and warns, naming them; ``error`` refuses the file, naming the
            first such cell.
        val_fraction: Fraction of rows held out for validation.
        test_fraction: Fraction of rows held out for testing.
        batch_size: Rows per training batch.
        eval_batch_size: Rows per evaluation batch; defaults to ``4 * batch_size``.
        seed: Seed of the split and of the shuffling.
    """

    def __init__(
        self,
        path: str,
        target: str | list[str],
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        id_column: str | None = None,
        delimiter: str = ",",
        format: TableFormat = "auto",
        task: Literal["auto", "binary", "multiclass", "multilabel", "regression"] = "auto",
        categorical_encoding: Literal["onehot", "embedding"] = "onehot",
        missing: Literal["error", "impute"] = "error",
        unseen: Literal["unknown", "error"] = "unknown",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        seed: int = 42,
    ) -> None:
        super().__init__(
            target=target,
            features=features,
            categorical=categorical,
            id_column=id_column,
            task=task,
            categorical_encoding=categorical_encoding,
            missing=missing,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            seed=seed,
        )
        self.path = path
        self.delimiter = delimiter
        self.format = format
        self.unseen = unseen

    def _read(self) -> pd.DataFrame:
        # float features as float32 at once (the preprocessing's own rounding) at half the memory;
        # targets and the id column as read
        return read_table(
            self.path,
            self.format,
            self.delimiter,
            float32=True,
            keep=[*self.targets, *([self.id_column] if self.id_column else [])],
        )

    def read_frame(self) -> pd.DataFrame:
        """The labelled table."""
        return self._read()

    def read_targets(self) -> pd.DataFrame | None:
        """The target columns alone (Parquet and Feather read just them; a CSV converts just them)."""
        return read_columns(self.path, self.targets, self.format, self.delimiter)

    def read_predict_frame(self) -> pd.DataFrame:
        """Every row of ``path``; the target columns may be absent.

        With ``unseen='error'``, a category that training never saw is refused here.
        """
        frame = self._read()
        if self.unseen == "error" and self.preprocessor is not None:
            complete = all(c in frame.columns for c in self.preprocessor.categorical)
            if complete and (first := self.preprocessor.first_unseen(frame)):
                raise DataError(
                    f"{first} was never seen in training",
                    "fix the value, or pass --data.unseen unknown to encode unseen categories as unknown.",
                )
        return frame

    def describe_predict_source(self) -> str:
        """Where ``predict`` takes its rows from, for the line it prints."""
        return f"every row of {self.path}"
