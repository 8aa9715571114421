"""Export a trained run to ONNX with its preprocessing, and predict with it without torch.

``lightkit export --ckpt_path X`` writes ``<run>/export/``:

- ``model.onnx``: the model's ``predict_step``, one file, dynamic batch (:mod:`.onnx_export`);
- ``preprocess.json``: raw rows to model inputs, output to named columns (:mod:`.spec`);
- ``export.json``: the source checkpoint, versions, opset and the parity report (:mod:`.parity`).

``lightkit predict --model_file <run>/export/model.onnx --data.path rows.csv`` and
:func:`onnx_predictor` predict with numpy, pandas and ONNX Runtime only (:mod:`.runtime`,
:mod:`.preprocess`). Importing this package imports neither torch nor onnxruntime; exporting
(:func:`export_run`) imports torch. The guide is docs/exporting.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightkit.export.errors import ExportError
from lightkit.export.spec import PREPROCESS_FORMAT

if TYPE_CHECKING:
    from lightkit.export.run import ExportResult, export_run
    from lightkit.export.runtime import OnnxPredictor, onnx_predictor

__all__ = [
    "PREPROCESS_FORMAT",
    "ExportError",
    "ExportResult",
    "OnnxPredictor",
    "export_run",
    "onnx_predictor",
]

_LAZY = {
    "ExportResult": "lightkit.export.run",
    "export_run": "lightkit.export.run",
    "OnnxPredictor": "lightkit.export.runtime",
    "onnx_predictor": "lightkit.export.runtime",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lightkit.export' has no attribute {name!r}")
