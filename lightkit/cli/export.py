"""``lightkit export`` and ``lightkit predict --model_file``: ONNX out, and predictions without torch.

``lightkit export --ckpt_path X`` writes ``<run>/export/`` (model.onnx, preprocess.json,
export.json) and fails, leaving nothing behind, when the ONNX model disagrees with the checkpoint.
``lightkit predict --model_file <run>/export/model.onnx --data.path rows.csv`` writes the
``predictions.csv`` that ``lightkit predict --ckpt_path`` writes, importing only numpy, pandas and
onnxruntime. This module imports neither torch nor onnxruntime at import time.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from lightkit.cli.command_parser import CommandParser
from lightkit.errors import DataError, UsageError
from lightkit.runs import CHECKPOINTS_DIR, RUNS_ROOT

__all__ = ["main", "predict_onnx"]

_EXPORT_EPILOG = """\
The export is checked every time: ONNX Runtime (CPUExecutionProvider) runs model.onnx through
preprocess.json on the run's validation rows (or --check_data), and the result must match the
checkpoint's outputs within --atol + --rtol x |output|, with every label identical. Otherwise
the command fails and writes nothing.

examples:
  lightkit export --ckpt_path runs/churn
  lightkit export --ckpt_path best --run.name churn --output deploy/churn
  lightkit predict --model_file runs/churn/export/model.onnx --data.path new.csv

See docs/exporting.md for preprocess.json's format and torch-free deployment.
"""

_PREDICT_EPILOG = """\
Reads the rows like the training file, applies preprocess.json (beside the model file), runs the
model with ONNX Runtime and writes the columns `lightkit predict --ckpt_path` writes. Imports
neither torch nor Lightning.
"""


def _export_parser() -> CommandParser:
    parser = CommandParser(
        prog="lightkit export",
        description="Export a trained run to ONNX with its preprocessing, checked for parity.",
        epilog=_EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--ckpt_path",
        required=True,
        metavar="CKPT",
        help="A .ckpt file, a run directory, or best / last (of --run.name, else of the latest run).",
    )
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="Export format (default: onnx).")
    parser.add_argument("--output", metavar="DIR", help="Export directory (default: <run>/export).")
    parser.add_argument(
        "--check_data",
        metavar="CSV",
        help="Rows to check the export on (default: the run's validation rows).",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-5,
        help="Absolute tolerance of the parity check (default: 1e-5); an output passes within "
        "atol + rtol * |checkpoint output|.",
    )
    parser.add_argument(
        "--rtol",
        type=float,
        default=1.3e-6,
        help="Relative tolerance of the parity check (default: 1.3e-6, torch.testing's for float32).",
    )
    parser.add_argument(
        "--exporter",
        choices=["dynamo", "legacy"],
        default="dynamo",
        help="dynamo: torch.export (default). legacy: the TorchScript-based exporter, deprecated upstream; "
        "only for models torch.export cannot trace.",
    )
    parser.add_argument("--opset", type=int, metavar="N", help="ONNX opset (default: the exporter's choice).")
    parser.add_argument(
        "--trainer.default_root_dir",
        dest="run_root",
        default=RUNS_ROOT,
        metavar="DIR",
        help=f"Where best / last look for runs, as for predict (default: {RUNS_ROOT}).",
    )
    parser.add_argument("--run.name", dest="run_name", metavar="NAME", help="The run best / last refer to.")
    return parser


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def _shape(entry: dict[str, Any]) -> str:
    return f"{entry['name']}[{', '.join(str(d) for d in entry['shape'])}]"


def main(argv: list[str]) -> int:
    """``lightkit export``: returns the exit code."""
    args = _export_parser().parse_args(argv)
    from lightkit.export.errors import ExportError
    from lightkit.export.run import export_run

    try:
        result = export_run(
            args.ckpt_path,
            output=args.output,
            root=args.run_root,
            name=args.run_name,
            check_data=args.check_data,
            atol=args.atol,
            rtol=args.rtol,
            exporter=args.exporter,
            opset=args.opset,
        )
    except ExportError as err:
        for line in err.details:
            print(line, file=sys.stderr)
        raise
    record, directory = result.record, result.directory
    onnx, spec_columns = record["onnx"], _spec_summary(result.directory)
    print(f"exported {result.checkpoint_path} to {directory}{os.sep}")
    inputs = ", ".join(_shape(i) for i in onnx["inputs"])
    outputs = ", ".join(_shape(o) for o in onnx["outputs"])
    print(
        f"  model.onnx       {_size(result.model_file)}, {onnx['exporter']} exporter, opset {onnx['opset']}, "
        f"{inputs} -> {outputs}"
    )
    print(f"  preprocess.json  {spec_columns}")
    print("  export.json      source checkpoint, versions, parity report")
    for line in result.parity_lines:
        print(line)
    print(f"predict without torch: lightkit predict --model_file {result.model_file} --data.path ROWS.csv")
    return 0


def _spec_summary(directory: Path) -> str:
    import json

    spec = json.loads((directory / "preprocess.json").read_text(encoding="utf-8"))
    kinds = [c["kind"] for c in spec["columns"]]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in ("numeric", "categorical") if kinds.count(k))
    output = spec["output"]
    labels = output.get("labels") or []
    shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
    return f"{len(kinds)} columns ({counts}), {output['kind']} output" + (f": {shown}" if labels else "")


# -- lightkit predict --model_file ---------------------------------------------------------------------
def _predict_parser() -> CommandParser:
    parser = CommandParser(
        prog="lightkit predict --model_file",
        usage="lightkit predict --model_file MODEL --data.path CSV [--run.output CSV]\n"
        "                        [--data.delimiter D] [--data.id_column NAME]",
        description="Predict rows with a model written by `lightkit export`, without torch.",
        epilog=_PREDICT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--model_file", required=True, metavar="MODEL", help="model.onnx of an export, or its directory."
    )
    parser.add_argument(
        "--data.path", dest="data_path", required=True, metavar="CSV", help="The rows to predict."
    )
    parser.add_argument(
        "--run.output",
        dest="output",
        metavar="CSV",
        help="Prediction file (default: predictions.csv in the run directory the export lies in, "
        "else in the current directory).",
    )
    parser.add_argument(
        "--data.delimiter", dest="delimiter", metavar="D", help="Field separator (default: that of training)."
    )
    parser.add_argument(
        "--data.id_column",
        dest="id_column",
        metavar="NAME",
        help="Column kept as row id (default: that of training, else the row number).",
    )
    return parser


def _default_output(model_file: Path) -> Path:
    """``<run>/predictions.csv`` for an export in ``<run>/export/`` (as --ckpt_path), else in the cwd."""
    run = model_file.resolve().parent.parent
    if (run / CHECKPOINTS_DIR).is_dir():
        return model_file.parent.parent / "predictions.csv"
    return Path("predictions.csv")


def _write_csv(path: Path, columns: dict[str, list[Any]]) -> Path:
    """Write the columns as PredictionWriter does: a temporary file renamed into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise DataError(
            f"cannot write predictions to {str(path)!r}: {err.strerror or err}",
            "choose a writable path with --run.output.",
        ) from None
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(columns))
            writer.writerows(zip(*columns.values(), strict=True))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def predict_onnx(rest: list[str]) -> int:
    """``lightkit predict --model_file ...`` (``rest``: the arguments after ``predict``); the exit code."""
    if any(a == "--ckpt_path" or a.startswith("--ckpt_path=") for a in rest):
        raise UsageError(
            "--ckpt_path and --model_file given together (lightkit predict)",
            "--model_file predicts with an ONNX export, without torch; --ckpt_path with a checkpoint. "
            "Give one.",
        )
    args = _predict_parser().parse_args(rest)
    from lightkit.export.preprocess import read_csv
    from lightkit.export.runtime import OnnxPredictor

    predictor = OnnxPredictor(args.model_file, id_column=args.id_column, flag="--model_file")
    frame = read_csv(args.data_path, args.delimiter or predictor.preprocess.delimiter)
    predictor.preprocess.check_columns(frame)
    unseen = predictor.preprocess.unseen(frame)
    if unseen:
        listed = "; ".join(f"{c}: {', '.join(map(repr, v[:5]))}" for c, v in unseen.items())
        print(
            f"warning: categories never seen in training are encoded as unknown ({listed})", file=sys.stderr
        )
    columns = predictor.predict_columns(frame)
    output = Path(args.output) if args.output else _default_output(predictor.model_file)
    written = _write_csv(output, columns)
    print(f"predictions written to {written}", file=sys.stderr)
    return 0
