"""``onnx_predictor()``: an exported model predicting raw rows with ONNX Runtime, without torch.

Only numpy, pandas and onnxruntime are imported (and lightkit's standard-library error types)::

    import lightkit

    predictor = lightkit.onnx_predictor("runs/churn/export")       # the directory, or its model.onnx
    table = predictor.predict("new_customers.csv")                  # or a DataFrame, or a list of dicts
    table.to_csv("predictions.csv", index=False)                    # the columns of `lightkit predict`

This is what ``lightkit predict --model_file`` runs, and what a server can hold: build one
predictor at start-up, call :meth:`OnnxPredictor.predict` per request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lightkit.errors import CheckpointError, DataError
from lightkit.export.preprocess import Preprocess, read_csv
from lightkit.export.spec import SpecProblem, read_spec

__all__ = ["MODEL_FILE", "PREPROCESS_FILE", "OnnxPredictor", "onnx_predictor"]

#: the files of an export directory
MODEL_FILE = "model.onnx"
PREPROCESS_FILE = "preprocess.json"

Rows = pd.DataFrame | str | Path | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def _locate(path: str | Path, flag: str) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(
            f"model file {str(path)!r} (from {flag}) does not exist",
            "give the model.onnx that `lightkit export` wrote (by default <run>/export/model.onnx), "
            "or its directory.",
        )
    return path


class OnnxPredictor:
    """A model written by ``lightkit export``, with its preprocessing, run by ONNX Runtime.

    Args:
        model_file: ``model.onnx`` or the export directory holding it.
        id_column: The column to keep as row id in the output; by default the one of training.
        providers: ONNX Runtime execution providers, in order of preference.
        threads: Intra-op threads of the ONNX Runtime session; by default ONNX Runtime's choice.
        flag: How the caller named ``model_file``, for error messages.

    Raises:
        CheckpointError: The file is missing, has no ``preprocess.json`` beside it, or ONNX Runtime
            cannot load it.
    """

    def __init__(
        self,
        model_file: str | Path,
        *,
        id_column: str | None = None,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int | None = None,
        flag: str = "model_file",
    ) -> None:
        import onnxruntime as ort

        self.model_file = _locate(model_file, flag)
        spec_file = self.model_file.parent / PREPROCESS_FILE
        try:
            spec = read_spec(spec_file)
        except FileNotFoundError:
            raise CheckpointError(
                f"no {PREPROCESS_FILE} beside {str(self.model_file)!r}",
                "an ONNX model predicts rows only with the preprocessing `lightkit export` writes beside it; "
                "copy the whole export directory.",
            ) from None
        except SpecProblem as err:
            raise CheckpointError(f"{str(spec_file)!r} cannot be used: {err}") from None
        self.preprocess = Preprocess(spec, id_column=id_column)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.model_file), options, providers=list(providers))
        except Exception as err:  # onnxruntime raises its own pybind types
            raise CheckpointError(
                f"ONNX Runtime cannot load {str(self.model_file)!r}: {str(err).splitlines()[0][:200]}"
            ) from None
        graph_inputs = [i.name for i in self.session.get_inputs()]
        if graph_inputs != self.preprocess.input_names:
            raise CheckpointError(
                f"{str(self.model_file)!r} takes inputs {graph_inputs}, but {PREPROCESS_FILE} makes "
                f"{self.preprocess.input_names}",
                "the two files come from different exports; copy the whole export directory again.",
            )
        self.output_name = self.session.get_outputs()[0].name

    @property
    def spec(self) -> dict[str, Any]:
        """The parsed ``preprocess.json``."""
        return self.preprocess.spec

    @property
    def columns(self) -> list[str]:
        """The raw columns a row needs."""
        return self.preprocess.columns

    @property
    def export_record(self) -> dict[str, Any]:
        """``export.json`` beside the model (source checkpoint, versions, parity report), if present."""
        path = self.model_file.parent / "export.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def frame(self, rows: Rows) -> pd.DataFrame:
        """``rows`` as a DataFrame: a CSV path is read like the training file, dicts become rows."""
        if isinstance(rows, pd.DataFrame):
            return rows
        if isinstance(rows, (str, Path)):
            return read_csv(rows, self.preprocess.delimiter)
        if isinstance(rows, Mapping):
            rows = [rows]
        frame = pd.DataFrame(list(rows))
        if frame.empty:
            raise DataError("no rows to predict")
        frame.attrs["source"] = "the rows given"
        return frame

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's raw output for input arrays (what :meth:`Preprocess.transform` makes)."""
        return self.session.run([self.output_name], inputs)[0]

    def outputs(self, rows: Rows) -> np.ndarray:
        """The model's output for raw rows: probabilities, or values in target units."""
        return self.run(self.preprocess.transform(self.frame(rows)))

    def predict_columns(self, rows: Rows) -> dict[str, list[Any]]:
        """The prediction file's columns for raw rows (row id, labels, probabilities or values)."""
        frame = self.frame(rows)
        output = self.run(self.preprocess.transform(frame))
        return self.preprocess.describe(output, self.preprocess.ids(frame))

    def predict(self, rows: Rows) -> pd.DataFrame:
        """Predictions for raw rows, as the table ``lightkit predict`` writes to ``predictions.csv``."""
        return pd.DataFrame(self.predict_columns(rows))


def onnx_predictor(
    path: str | Path, *, id_column: str | None = None, threads: int | None = None
) -> OnnxPredictor:
    """Load an export of ``lightkit export`` for prediction with ONNX Runtime, without torch.

    Args:
        path: The export directory (``<run>/export``) or its ``model.onnx``.
        id_column: The column kept as row id in the predictions; by default the one of training.
        threads: ONNX Runtime intra-op threads; by default its own choice.

    Returns:
        An :class:`OnnxPredictor`; ``predict(rows)`` takes a DataFrame, a CSV path or dicts.
    """
    return OnnxPredictor(path, id_column=id_column, threads=threads, flag="onnx_predictor(path)")
