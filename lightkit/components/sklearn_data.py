"""``SklearnDataModule``: scikit-learn's bundled tables, with no download."""

from __future__ import annotations

from typing import Literal

from lightkit.components.tabular_data import TabularDataModule
from lightkit.data.lazy import LazyModule

pd = LazyModule("pandas")
_datasets = LazyModule("sklearn.datasets")

__all__ = ["SklearnDataModule"]

DatasetName = Literal["iris", "wine", "breast_cancer", "digits", "diabetes"]


class SklearnDataModule(TabularDataModule):
    """One of scikit-learn's bundled datasets, split into train, validation and test.

    ``iris``, ``wine`` and ``digits`` are multiclass, ``breast_cancer`` is binary and ``diabetes``
    is regression. Class labels keep scikit-learn's names. Predictions are made on the test split,
    and the row ids in the prediction file are the rows of the original dataset.

    Args:
        dataset: Which bundled dataset to load.
        val_fraction: Fraction of rows held out for validation.
        test_fraction: Fraction of rows held out for testing.
        batch_size: Rows per training batch.
        eval_batch_size: Rows per evaluation batch; defaults to ``4 * batch_size``.
        seed: Seed of the split and of the shuffling.
    """

    def __init__(
        self,
        dataset: DatasetName = "wine",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        seed: int = 42,
    ) -> None:
        task = "regression" if dataset == "diabetes" else "binary" if dataset == "breast_cancer" else "multiclass"
        super().__init__(
            target="target",
            task=task,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            seed=seed,
        )
        self.dataset = dataset

    def read_frame(self) -> pd.DataFrame:
        """The dataset as a table with a ``target`` column."""
        bunch = getattr(_datasets, f"load_{self.dataset}")(as_frame=True)
        frame = bunch.frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        if self.task != "regression" and hasattr(bunch, "target_names"):
            names = [str(n) for n in bunch.target_names]
            frame["target"] = frame["target"].map(lambda i: names[int(i)])
        frame.attrs["source"] = f"scikit-learn's {self.dataset} dataset"
        return frame

    def describe_predict_source(self) -> str:
        """Where ``predict`` takes its rows from, for the line it prints."""
        return f"the test split of scikit-learn's {self.dataset} dataset"
