"""The data-shape convention: data modules say what shape their data has; models receive it.

A user never types the number of input features, the number of outputs or the task. A data
module exposes a ``data_shape`` mapping; the CLI links each key below into the model argument
of the same name, *if the model has one*. A model without such arguments works with any data
module, and a data module without ``data_shape`` works with any model that does not need it.

Keys (all optional; a data module sets those that apply):

==================  =============================================================
``task``            ``binary``, ``multiclass``, ``multilabel`` or ``regression``
``num_features``    width of the float feature tensor ``batch["x"]``
``num_outputs``     output units: 1 for binary, classes, labels or targets
``category_sizes``  vocabulary size per column of ``batch["x_cat"]`` (embeddings)
``target_mean``     per-target mean (regression), so models can standardise
``target_std``      per-target standard deviation (regression)
``input_shape``     shape of one sample, e.g. ``[1, 8, 8]`` for images
==================  =============================================================
"""

from __future__ import annotations

from typing import Any

__all__ = ["SHAPE_KEYS", "shape_value"]

#: the data-shape keys the CLI links into models
SHAPE_KEYS: tuple[str, ...] = (
    "task",
    "num_features",
    "num_outputs",
    "category_sizes",
    "target_mean",
    "target_std",
    "input_shape",
)


def shape_value(datamodule: Any, key: str) -> Any:
    """``datamodule.data_shape[key]``, or ``None`` when the data module does not provide it."""
    shape = getattr(datamodule, "data_shape", None) if datamodule is not None else None
    if not shape:
        return None
    return shape.get(key)
