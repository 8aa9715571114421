"""What ``lightkit export`` asks of a data module, and the answers for lightkit's own table modules.

A data module exports when it has these methods (a plugin adds them; see "Making a plugin
exportable" in docs/exporting.md)::

    def export_preprocessing(self, model: LightningModule) -> dict:
        '''The fitted transform and the output, in preprocess.json's shape (lightkit.export.spec).'''

    def export_batch(self, frame: pandas.DataFrame) -> dict[str, Tensor]:
        '''Raw rows as the batch predict_step receives: the data module's own transform.'''

    def export_rows(self) -> pandas.DataFrame:          # optional: without it, --check_data is needed
        '''Raw rows of the validation split, as read from the data, to check the export on.'''

``inputs`` in the spec are named like the batch keys, so the ONNX graph takes exactly the tensors
``predict_step`` reads. lightkit's ``TabularDataModule`` family (``CSVDataModule``,
``SklearnDataModule``) is answered here, from its fitted :class:`TabularPreprocessor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightkit.export.errors import ExportError
from lightkit.export.spec import SpecProblem, complete_spec

if TYPE_CHECKING:
    import pandas as pd
    from torch import Tensor

__all__ = ["HOOKS", "export_batch", "export_rows", "export_spec"]

#: the data-module methods lightkit export calls, in the order a plugin usually writes them
HOOKS = ("export_preprocessing", "export_batch", "export_rows")


def _is_tabular(datamodule: Any) -> bool:
    from lightkit.components.tabular_data import TabularDataModule

    return isinstance(datamodule, TabularDataModule)


def _name(datamodule: Any) -> str:
    return type(datamodule).__name__


def _missing_hook(datamodule: Any, hook: str) -> ExportError:
    return ExportError(
        f"data module {_name(datamodule)} cannot be exported: it has no {hook}() method",
        "a data module describes its preprocessing for export with export_preprocessing(model) and "
        "export_batch(frame); see 'Making a plugin exportable' in docs/exporting.md.",
        stage="data",
    )


def export_spec(datamodule: Any, model: Any) -> dict[str, Any]:
    """The completed ``preprocess.json`` for ``datamodule`` (fitted state restored) and ``model``.

    Raises:
        ExportError: The data module has no ``export_preprocessing``, or what it returns does not
            have preprocess.json's shape.
    """
    hook = getattr(datamodule, "export_preprocessing", None)
    if callable(hook):
        spec, origin = hook(model), f"{_name(datamodule)}.export_preprocessing()"
    elif _is_tabular(datamodule):
        spec, origin = _tabular_spec(datamodule), "the fitted TabularPreprocessor"
    else:
        raise _missing_hook(datamodule, "export_preprocessing")
    try:
        return complete_spec(spec)
    except SpecProblem as err:
        raise ExportError(
            f"{origin} does not describe the preprocessing in preprocess.json's shape: {err}",
            "see 'preprocess.json' in docs/exporting.md for every key.",
            stage="data",
        ) from None


def export_batch(datamodule: Any, frame: pd.DataFrame) -> dict[str, Tensor]:
    """``frame``'s raw rows as the batch ``predict_step`` receives, by the data module's own transform."""
    hook = getattr(datamodule, "export_batch", None)
    if callable(hook):
        return dict(hook(frame))
    if _is_tabular(datamodule):
        import numpy as np
        import torch

        arrays = datamodule.fit_preprocessor().transform_features(frame)
        return {name: torch.from_numpy(np.array(a, copy=True, order="C")) for name, a in arrays.items()}
    raise _missing_hook(datamodule, "export_batch")


def export_rows(datamodule: Any) -> pd.DataFrame:
    """Raw rows to check the export on: the validation split (the test split when that is empty).

    Raises:
        ExportError: The data module cannot say which rows those are; ``--check_data`` is needed.
    """
    hook = getattr(datamodule, "export_rows", None)
    if callable(hook):
        return hook()
    if _is_tabular(datamodule):
        frame = datamodule._labelled()  # the labelled table and its split, as in training
        splits = datamodule._split_rows
        rows = splits["val"] if len(splits["val"]) else splits["test"]
        return frame.iloc[rows]
    raise ExportError(
        f"data module {_name(datamodule)} has no export_rows() method, so lightkit does not know its "
        "validation rows",
        "pass --check_data ROWS.csv with rows to check the export on, or add export_rows() "
        "(docs/exporting.md).",
        stage="data",
    )


def _tabular_spec(datamodule: Any) -> dict[str, Any]:
    spec = datamodule.fit_preprocessor().to_json()
    spec["id_column"] = datamodule.id_column
    spec["reader"] = {"delimiter": getattr(datamodule, "delimiter", ",")}
    if getattr(datamodule, "unseen", "unknown") == "error":  # CSVDataModule(unseen="error")
        for entry in spec["inputs"]:
            for part in entry["parts"]:
                if part["kind"] != "numeric":
                    part["unseen"] = "error"
    return spec
