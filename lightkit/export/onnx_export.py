"""The model's ``predict_step`` as one ONNX file, with a dynamic batch dimension.

The graph is ``predict_step`` itself (probabilities, or values in target units), wrapped so that
its inputs are positional tensors named like the batch keys. By default it is exported with the
dynamo exporter (``torch.onnx.export(..., dynamo=True)``, which runs ``torch.export`` and needs
``onnxscript``), ``dynamic_shapes`` marking dimension 0 of every input with one
``torch.export.Dim``, and ``external_data=False`` so that the weights are inside the file. The
TorchScript-based exporter (``exporter="legacy"``, ``dynamic_axes``) is the fallback for models
that torch.export cannot trace; it is deprecated upstream and traces the path the example rows take.

A failure becomes an :class:`ExportError` naming the operation or source line that failed and the
fallback flag, instead of the exporter's page of advice.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from lightkit.export.errors import ExportError

__all__ = ["Exporter", "PredictGraph", "export_onnx", "trace_forward"]

Exporter = Literal["dynamo", "legacy"]

#: the flag that picks the fallback exporter, named in every failure's hint
FALLBACK_FLAG = "--exporter legacy"

_NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "torch._export", "torch.fx", "onnxscript")


class PredictGraph(nn.Module):
    """``model.predict_step`` over positional tensors: the function the ONNX graph computes.

    Args:
        model: The trained LightningModule, in eval mode.
        names: The batch keys, in the order of the positional inputs.
    """

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.names = list(names)

    def forward(self, *tensors: Tensor) -> Tensor:
        """``predict_step({name: tensor, ...}, 0)``."""
        return self.model.predict_step(dict(zip(self.names, tensors, strict=True)), 0)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters print progress lines, registry warnings and (from C++) whole graphs: hide them.

    Python-level output, logging and warnings are silenced, and file descriptors 1 and 2 point to a
    scratch file while the exporter runs, so that the C++ side's prints do not reach the terminal.
    """
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    saved: list[tuple[int, int]] = []
    sink = tempfile.TemporaryFile()
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        sink.close()
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_onnx(
    model: nn.Module,
    names: list[str],
    example: dict[str, Tensor],
    path: Path,
    *,
    output_name: str = "prediction",
    exporter: Exporter = "dynamo",
    opset: int | None = None,
) -> dict[str, Any]:
    """Write ``model.predict_step`` to ``path`` as one ONNX file; returns what export.json records.

    Args:
        model: The model, in eval mode.
        names: The graph's input names (the batch keys), in order.
        example: Example inputs by name, with at least two rows (torch.export treats a batch of
            one as a constant).
        path: The ``.onnx`` file to write.
        output_name: The graph's output name.
        exporter: ``dynamo`` (default) or ``legacy``, the TorchScript-based fallback.
        opset: The ONNX opset; by default the exporter's recommended one.

    Raises:
        ExportError: ``predict_step`` does not return one tensor, torch.export cannot trace it, or an
            operation has no ONNX translation.
    """
    graph = PredictGraph(model, names).eval()
    args = tuple(example[name] for name in names)
    label = f"{type(model).__name__}.predict_step"
    with torch.no_grad():
        probe = graph(*args)
    if not isinstance(probe, Tensor):
        raise ExportError(
            f"{label} returns a {type(probe).__name__}; an ONNX export needs one tensor per batch",
            "return one tensor with a row per sample from predict_step (what PredictionWriter writes).",
            stage="trace",
        )
    try:
        with _quiet():
            if exporter == "dynamo":
                batch = torch.export.Dim("batch")
                torch.onnx.export(
                    graph,
                    args,
                    str(path),
                    input_names=names,
                    output_names=[output_name],
                    opset_version=opset,
                    dynamo=True,
                    external_data=False,
                    dynamic_shapes=(tuple({0: batch} for _ in names),),
                    verbose=False,
                )
            else:
                torch.onnx.export(
                    graph,
                    args,
                    str(path),
                    input_names=names,
                    output_names=[output_name],
                    opset_version=opset,
                    dynamo=False,
                    dynamic_axes={name: {0: "batch"} for name in [*names, output_name]},
                )
    except ExportError:
        raise
    except Exception as err:  # the exporters raise many types; each becomes one short message
        raise explain_failure(err, label, exporter) from err
    return {"exporter": exporter, "opset": _opset(path), "output": output_name}


def trace_forward(model: nn.Module, example: Any, path: Path, exporter: Exporter = "dynamo") -> None:
    """Export ``model.forward`` on ``example`` (its ``example_input_array``) to see whether it converts.

    Raises:
        ExportError: As :func:`export_onnx`.
    """
    args = example if isinstance(example, tuple) else (example,)
    label = f"{type(model).__name__}.forward"
    try:
        with _quiet():
            torch.onnx.export(
                model.eval(), args, str(path), dynamo=exporter == "dynamo", external_data=False, verbose=False
            )
    except Exception as err:  # as in export_onnx
        raise explain_failure(err, label, exporter) from err


def _opset(path: Path) -> int | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _chain(err: BaseException) -> list[BaseException]:
    chain, seen, current = [], set(), err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


_OP_DISPATCH = re.compile(r"No ONNX function found for <OpOverload\(op='([^']+)'")
_OP_LEGACY = re.compile(r"Exporting the operator '([^']+)' to ONNX opset version (\d+) is not supported")
_CALL_SITE = re.compile(
    r'The following call raised this error:\s*File "([^"]+)", line (\d+), in (\w+)\n\s*(.+)'
)
_SUMMARY = re.compile(r"## Exception summary\s*<class '([\w.]+)'>: (.+)")


def _first_line(text: str, limit: int = 160) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def explain_failure(err: BaseException, label: str, exporter: Exporter) -> ExportError:
    """One short :class:`ExportError` for an exporter's exception: the failing operation and the fallback."""
    texts = [str(e) for e in _chain(err)]
    everything = "\n".join(texts)
    if exporter == "dynamo":
        other = f"pass {FALLBACK_FLAG} to try the TorchScript-based exporter (deprecated upstream)"
    else:
        other = "try the default dynamo exporter (leave out --exporter legacy)"
    op = _OP_DISPATCH.search(everything) or _OP_LEGACY.search(everything)
    if op is not None:
        name = op.group(1).replace("::", ".")
        return ExportError(
            f"{label} cannot be exported to ONNX: operation {name} has no ONNX translation",
            f"replace {name} in predict_step with operations ONNX has, or {other}; see docs/exporting.md.",
            stage="convert",
            operation=name,
        )
    site = _CALL_SITE.search(everything)
    summary = _SUMMARY.search(everything)
    if summary is not None or "torch.export" in everything:
        cause = summary.group(2) if summary else _first_line(texts[-1])
        cause = cause.split(" (unhinted")[0].split("  ")[0].rstrip(".")
        kind = summary.group(1).rsplit(".", 1)[-1] if summary else type(_chain(err)[-1]).__name__
        where = f" at {Path(site.group(1)).name}:{site.group(2)} (`{site.group(4).strip()}`)" if site else ""
        return ExportError(
            f"torch.export cannot trace {label}{where}: {kind}: {_first_line(cause)}",
            "Python control flow on tensor values cannot be traced: use torch.where, or pass "
            f"{FALLBACK_FLAG} (TorchScript-based, deprecated upstream; it records only the branch the "
            "example rows take). See docs/exporting.md.",
            stage="trace",
            operation=site.group(4).strip() if site else None,
        )
    return ExportError(
        f"{label} cannot be exported to ONNX with the {exporter} exporter: "
        f"{type(_chain(err)[-1]).__name__}: {_first_line(texts[-1])}",
        f"{other}; --debug shows the exporter's full message.",
        stage="convert",
    )
