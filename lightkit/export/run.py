"""``export_run()``: a trained run as ``model.onnx`` + ``preprocess.json`` + ``export.json``, checked.

The steps: rebuild the run with :func:`lightkit.load_run`; ask the data module for its
preprocessing (:mod:`lightkit.export.hooks`); predict the check rows with the checkpoint; export
``predict_step`` (:mod:`lightkit.export.onnx_export`); run the ONNX model through
``preprocess.json`` with ONNX Runtime and compare (:mod:`lightkit.export.parity`). Everything is
written into a hidden sibling directory first and renamed into place only when the parity check
passes, so a failed export leaves nothing behind, and a previous good export stays until the new
one replaces it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from lightkit.errors import CheckpointError, LightkitError
from lightkit.export.errors import ExportError
from lightkit.export.runtime import MODEL_FILE, PREPROCESS_FILE
from lightkit.export.spec import dumps
from lightkit.files import check_output, within
from lightkit.runs import RUNS_ROOT
from lightkit.runs.lock import lock_run

__all__ = ["EXPORT_FILE", "EXPORT_FORMAT", "ExportResult", "export_run", "require_extra"]

#: the record of an export, beside model.onnx
EXPORT_FILE = "export.json"
#: its ``format`` field
EXPORT_FORMAT = "lightkit-export/1"

_EXTRA = ("onnx", "onnxscript", "onnxruntime")


@dataclass
class ExportResult:
    """What :func:`export_run` wrote.

    Attributes:
        directory: The export directory (``<run>/export`` by default).
        record: The contents of ``export.json`` (source, versions, ONNX facts, parity report).
        parity_lines: The parity report as printed lines.
        checkpoint_path: The checkpoint that was exported.
    """

    directory: Path
    record: dict[str, Any]
    parity_lines: list[str]
    checkpoint_path: Path

    @property
    def model_file(self) -> Path:
        """``model.onnx``."""
        return self.directory / MODEL_FILE


def require_extra() -> None:
    """Refuse early, with the install line, when the ``export`` extra is missing.

    Raises:
        LightkitError: onnx, onnxscript or onnxruntime cannot be imported.
    """
    from importlib.util import find_spec

    missing = [name for name in _EXTRA if find_spec(name) is None]
    if missing:
        raise LightkitError(
            f"lightkit export needs {', '.join(missing)}, "
            f"which {'is' if len(missing) == 1 else 'are'} not installed",
            "pip install 'lightkit[export]' (onnx, onnxscript and onnxruntime; onnxruntime 1.32 needs "
            "Python 3.11 or newer, on 3.10 pip picks an older onnxruntime).",
        )


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(dumps(data) + "\n", encoding="utf-8")


def _check_output(output: Path) -> None:
    """An existing output directory is replaced only when it is an earlier export (or empty)."""
    if not output.exists():
        return
    if not output.is_dir():
        raise ExportError(
            f"--output {str(output)!r} exists and is not a directory",
            "choose a directory for the export.",
            stage="write",
        )
    if any(output.iterdir()) and not (output / EXPORT_FILE).is_file():
        raise ExportError(
            f"--output {str(output)!r} holds files that are not a lightkit export",
            "choose another --output; lightkit replaces only an earlier export (a directory with "
            "export.json).",
            stage="write",
        )


def _replace(staging: Path, output: Path) -> None:
    """Rename ``staging`` to ``output``, replacing an earlier export only once the new one is complete."""
    old = None
    if output.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
        os.replace(output, old / output.name)
    os.replace(staging, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_frame(datamodule: Any, preprocess: Any, check_data: str | Path | None) -> tuple[Any, str]:
    from lightkit.export.hooks import export_rows
    from lightkit.export.preprocess import read_csv

    if check_data is not None:
        frame, source = read_csv(check_data, preprocess.delimiter), f"file {str(check_data)!r}"
    else:
        frame, source = export_rows(datamodule), "validation split"
    if len(frame) == 0:
        raise ExportError(
            f"there are no rows to check the export on (from the {source})",
            "pass --check_data ROWS.csv with a few rows of the training data.",
            stage="data",
        )
    return frame, source


def _example(arrays: dict[str, Any]) -> dict[str, Any]:
    """The trace's example inputs: up to 16 check rows, and at least 2 (a batch of 1 is specialised)."""
    import numpy as np
    import torch

    out = {}
    for name, array in arrays.items():
        rows = array[:16]
        if len(rows) < 2:
            rows = np.concatenate([rows] * 2)
        out[name] = torch.from_numpy(np.ascontiguousarray(rows))
    return out


def export_run(
    ckpt_path: str | Path,
    *,
    output: str | Path | None = None,
    root: str | Path = RUNS_ROOT,
    name: str | None = None,
    check_data: str | Path | None = None,
    atol: float = 1e-5,
    rtol: float = 1.3e-6,
    exporter: str = "dynamo",
    opset: int | None = None,
) -> ExportResult:
    """Export a trained run to ONNX with its preprocessing, and check it against the checkpoint.

    Args:
        ckpt_path: What ``lightkit predict --ckpt_path`` accepts: a ``.ckpt`` file, a run
            directory, ``best`` or ``last``.
        output: The export directory; by default ``<run>/export``.
        root: Where ``best``/``last`` look for runs.
        name: The run ``best``/``last`` refer to.
        check_data: A CSV of raw rows to check on; by default the run's validation rows.
        atol: Absolute tolerance: an ONNX output passes within ``atol + rtol * |checkpoint output|``.
        rtol: Relative tolerance (the defaults are torch.testing's for float32).
        exporter: ``dynamo`` (torch.export) or ``legacy`` (TorchScript-based, deprecated upstream).
        opset: The ONNX opset; by default the exporter's recommended one.

    Raises:
        CheckpointError: The checkpoint cannot be found or loaded.
        ExportError: The run cannot be exported, or the export disagrees with the checkpoint;
            nothing is left in ``output`` then.
    """
    require_extra()
    from lightkit.loading import load_run

    for flag, value in (("--atol", atol), ("--rtol", rtol)):
        if not value >= 0:
            raise ExportError(f"{flag} must be a number of at least 0, got {value:g}", stage="parity")
    run = load_run(ckpt_path, root=root, name=name)
    if run.datamodule is None:
        raise CheckpointError(
            f"checkpoint {str(run.checkpoint_path)!r} records no data module, so there is no "
            "preprocessing to export",
            "export runs trained with `lightkit fit`, whose checkpoints carry their data module.",
        )
    directory = Path(output) if output is not None else (run.run_dir or run.checkpoint_path.parent) / "export"
    _check_output(directory)
    inputs = {str(run.checkpoint_path): "--ckpt_path"}
    check_output(directory, "--output", inputs, run.run_dir, directory=True)  # lightkit.files
    with _run_locked(run.run_dir, directory, ckpt_path):
        return _export(run, directory, check_data, atol, rtol, exporter, opset)


@contextmanager
def _run_locked(run_dir: Path | None, directory: Path, ckpt_path: str | Path) -> Iterator[None]:
    """The run's lock while exporting: exclusive when the export goes into the run, else shared.

    As ``predict`` does: a run being trained cannot be written into, and is not read half-saved.
    """
    if run_dir is None:
        yield
        return
    command = f"lightkit export --ckpt_path {ckpt_path}"
    lock = lock_run(run_dir, command, shared=not within(directory, run_dir))
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _export(
    run: Any,
    directory: Path,
    check_data: str | Path | None,
    atol: float,
    rtol: float,
    exporter: str,
    opset: int | None,
) -> ExportResult:
    """Export the loaded ``run`` into ``directory``: :func:`export_run`'s work, under the run's lock."""
    import onnxruntime as ort

    from lightkit.export.hooks import export_spec
    from lightkit.export.onnx_export import export_onnx
    from lightkit.export.parity import PROVIDER, checkpoint_predictions, compare
    from lightkit.export.preprocess import Preprocess

    spec = export_spec(run.datamodule, run.model)
    preprocess = Preprocess(spec)
    frame, source = _check_frame(run.datamodule, preprocess, check_data)
    ids = preprocess.ids(frame)
    expected = checkpoint_predictions(run.model, run.datamodule, frame, ids)
    arrays = preprocess.transform(frame)
    run.model.eval()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.tmp-{secrets.token_hex(4)}"
    staging.mkdir()  # not mkdtemp: the export keeps the umask's permissions, not 0700
    try:
        model_file = staging / MODEL_FILE
        onnx_info = export_onnx(
            run.model,
            preprocess.input_names,
            _example(arrays),
            model_file,
            output_name=spec["output"]["name"],
            exporter=exporter,  # type: ignore[arg-type]
            opset=opset,
        )
        stray = sorted(p.name for p in staging.iterdir() if p.name != MODEL_FILE)
        if stray:
            raise ExportError(
                f"the exporter wrote {stray} beside model.onnx; the export must be one file",
                "the model may be over 2 GB, the limit of a single ONNX file.",
                stage="write",
            )
        session = ort.InferenceSession(str(model_file), providers=[PROVIDER])
        report = compare(session, preprocess, frame, source, expected, atol, rtol)
        record = {
            "format": EXPORT_FORMAT,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": {
                "checkpoint": str(run.checkpoint_path.resolve()),
                "checkpoint_sha256": _sha256(run.checkpoint_path),
                "run_dir": str(run.run_dir.resolve()) if run.run_dir else None,
                "epoch": run.epoch,
                "global_step": run.global_step,
                "model": run.config.get("model", {}).get("class_path"),
                "data": (run.config.get("data") or {}).get("class_path"),
            },
            "versions": {
                "python": platform.python_version(),
                **{
                    dist: _version(dist)
                    for dist in ("lightkit", "torch", "lightning", *_EXTRA, "numpy", "pandas")
                },
            },
            "onnx": {
                "file": MODEL_FILE,
                "sha256": _sha256(model_file),
                "bytes": model_file.stat().st_size,
                **onnx_info,
                "inputs": [
                    {
                        "name": i.name,
                        "dtype": i.type,
                        "shape": [d if isinstance(d, int) else "batch" for d in i.shape],
                    }
                    for i in session.get_inputs()
                ],
                "outputs": [
                    {
                        "name": o.name,
                        "dtype": o.type,
                        "shape": [d if isinstance(d, int) else "batch" for d in o.shape],
                    }
                    for o in session.get_outputs()
                ],
            },
            "parity": report.to_json(),
        }
        del session
        if not report.passed:
            raise _parity_failure(report, directory)
        _write_json(staging / PREPROCESS_FILE, spec)
        _write_json(staging / EXPORT_FILE, record)
        _replace(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(directory, record, report.lines(), run.checkpoint_path)


def _parity_failure(report: Any, directory: Path) -> ExportError:
    problems = []
    if not report.within_tolerance:
        problems.append(
            f"outputs differ by up to {report.max_abs_diff:.3g}, beyond atol {report.atol:g} + rtol "
            f"{report.rtol:g} x |value| at row {report.worst.get('row')!r}"
        )
    if report.labels_agree != report.rows or report.mismatches:
        first = report.mismatches[0] if report.mismatches else {}
        problems.append(
            f"labels differ on {report.rows - report.labels_agree} of {report.rows} rows"
            + (
                f" (row {first.get('row')!r}, {first.get('column')}: checkpoint {first.get('checkpoint')!r}, "
                f"onnx {first.get('onnx')!r})"
                if first
                else ""
            )
        )
    cause = (
        "preprocess.json does not reproduce the data module's transform"
        if report.input_max_abs_diff > report.atol
        else "the ONNX graph computes something else than predict_step"
    )
    return ExportError(
        f"parity check failed on the {report.source}: {'; '.join(problems)}",
        f"{cause}; nothing was written to {str(directory)!r}. --atol / --rtol allow a larger difference; "
        "--exporter legacy tries the other exporter.",
        stage="parity",
        details=report.lines(),
    )
