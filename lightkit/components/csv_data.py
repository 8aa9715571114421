"""``CSVDataModule``: a table from a CSV file, for classification or regression."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lightkit.components.tabular_data import TabularDataModule
from lightkit.data.lazy import LazyModule
from lightkit.errors import DataError

pd = LazyModule("pandas")

__all__ = ["CSVDataModule"]


class CSVDataModule(TabularDataModule):
    """Rows of a CSV file, split into train, validation and test, with preprocessing fitted on train.

    At predict time ``path`` is the file to predict: it needs the feature columns only, and the
    transform fitted in training (from the checkpoint) is applied unchanged.

    Args:
        path: The CSV file.
        target: Target column, or several (multilabel tags or several regression targets).
        features: Feature columns; by default every column but the targets and the id column.
        categorical: Categorical feature columns; by default the non-numeric features.
        id_column: Column kept in prediction files to identify rows; by default the row index.
        delimiter: Field separator of the file.
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
        self.unseen = unseen

    def _read(self) -> pd.DataFrame:
        path = Path(self.path)
        if not path.is_file():
            raise DataError(
                f"CSV file {self.path!r} (from data.path) does not exist"
                if not path.exists()
                else f"data.path {self.path!r} is not a file",
                "check the path; relative paths are taken from the current directory.",
            )
        try:
            frame = pd.read_csv(path, sep=self.delimiter, skipinitialspace=True)
        except pd.errors.EmptyDataError:
            raise DataError(
                f"CSV file {self.path!r} (from data.path) is empty", "it needs a header line and data rows."
            ) from None
        except pd.errors.ParserError as err:
            detail = " ".join(str(err).split()).removeprefix("Error tokenizing data. C error: ")
            raise DataError(
                f"CSV file {self.path!r} cannot be parsed: {detail}",
                f"every line needs the header's number of {self.delimiter!r}-separated fields; quote "
                "fields that contain the delimiter.",
            ) from None
        except UnicodeDecodeError:
            raise DataError(
                f"CSV file {self.path!r} is not UTF-8 text ({_first_bad_byte(path)})",
                "save it as UTF-8 CSV; is it a spreadsheet or a compressed file?",
            ) from None
        except (OSError, ValueError) as err:
            raise DataError(
                f"CSV file {self.path!r} cannot be read with delimiter {self.delimiter!r}: {err}",
                "check the file's permissions and --data.delimiter.",
            ) from None
        if frame.empty:
            raise DataError(
                f"CSV file {self.path!r} has a header but no data rows",
                f"its header is {list(map(str, frame.columns))[:8]}; add rows below it.",
            )
        frame.attrs["source"] = self.path
        frame.attrs["first_line"] = 2
        return frame

    def read_frame(self) -> pd.DataFrame:
        """The labelled CSV."""
        return self._read()

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


def _first_bad_byte(path: Path) -> str:
    """Where the first byte that is not UTF-8 is: ``byte 0xff on line 2``."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        return f"byte {raw[err.start]:#04x} on line {line}"
    return "an undecodable byte"
