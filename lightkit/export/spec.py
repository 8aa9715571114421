"""``preprocess.json``: what turns raw rows into the model's inputs and its output into named columns.

The format is versioned by its ``format`` field (:data:`PREPROCESS_FORMAT`) and documented in
docs/exporting.md. A data module describes its fitted preprocessing in this shape (see
:mod:`lightkit.export.hooks`); :func:`complete_spec` checks it and fills in the derived fields
(widths, the raw column list); :func:`read_spec` reads a file back. Standard library only, so
torch-free prediction and serving can read it.

A spec, in short::

    {"format": "lightkit-preprocess/1",
     "task": "binary", "targets": ["churned"], "id_column": "customer_id",
     "reader": {"delimiter": ","},
     "columns": [{"name": "tenure", "kind": "numeric", "dtype": "float32"}, ...],
     "inputs": [{"name": "x", "dtype": "float32", "width": 12, "parts": [
         {"kind": "numeric", "columns": ["tenure", ...], "mean": [...], "std": [...],
          "missing": "error", "fill": null, "compute": "float32"},
         {"kind": "onehot", "column": "plan", "vocabulary": ["<unknown>", "basic", ...],
          "unknown": 0, "unseen": "unknown"}]}],
     "output": {"name": "prediction", "kind": "binary", "labels": ["0", "1"], "threshold": 0.5,
                "width": 1, "target_scaling": null}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "OUTPUT_KINDS",
    "PREPROCESS_FORMAT",
    "SpecProblem",
    "complete_spec",
    "dumps",
    "output_width",
    "read_spec",
]

#: the ``format`` field this version of lightkit writes and reads
PREPROCESS_FORMAT = "lightkit-preprocess/1"

#: how the model's output becomes columns of predictions.csv (see :mod:`lightkit.export.preprocess`)
OUTPUT_KINDS = ("binary", "multiclass", "multilabel", "regression", "raw")

_PART_KINDS = ("numeric", "onehot", "index")
_INPUT_DTYPES = ("float32", "float64", "int64")


class SpecProblem(ValueError):
    """A preprocess spec that does not have the documented shape; the message names the key."""


def _need(mapping: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise SpecProblem(f"{where} has no {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SpecProblem(f"{where}.{key} must be a {names}, got {type(value).__name__}")
    return value


def _part_width(part: dict[str, Any], where: str) -> tuple[int, list[tuple[str, str]]]:
    """Width of one part of an input, and the raw columns it reads as (name, kind)."""
    kind = _need(part, "kind", where, str)
    if kind == "numeric":
        columns = _need(part, "columns", where, list)
        for key in ("mean", "std"):
            values = _need(part, key, where, list)
            if len(values) != len(columns):
                raise SpecProblem(f"{where}.{key} has {len(values)} values for {len(columns)} columns")
        if part.get("missing", "error") not in ("error", "impute"):
            raise SpecProblem(f"{where}.missing must be 'error' or 'impute', got {part.get('missing')!r}")
        if part.get("missing") == "impute" and len(part.get("fill") or []) != len(columns):
            raise SpecProblem(f"{where}.fill needs one value per column to impute")
        if part.get("compute", "float32") not in ("float32", "float64"):
            raise SpecProblem(f"{where}.compute must be 'float32' or 'float64', got {part.get('compute')!r}")
        return len(columns), [(str(c), "numeric") for c in columns]
    if kind in ("onehot", "index"):
        column = _need(part, "column", where, str)
        vocabulary = _need(part, "vocabulary", where, list)
        unknown = part.get("unknown", 0)
        if not isinstance(unknown, int) or not 0 <= unknown < len(vocabulary):
            raise SpecProblem(f"{where}.unknown must index the vocabulary, got {unknown!r}")
        if part.get("unseen", "unknown") not in ("unknown", "error"):
            raise SpecProblem(f"{where}.unseen must be 'unknown' or 'error', got {part.get('unseen')!r}")
        return (len(vocabulary) if kind == "onehot" else 1), [(column, "categorical")]
    raise SpecProblem(f"{where}.kind must be one of {list(_PART_KINDS)}, got {kind!r}")


def output_width(output: dict[str, Any]) -> int | None:
    """Columns of the model's output that ``output`` implies; ``None`` when it does not say (``raw``)."""
    kind, labels = output.get("kind"), output.get("labels") or []
    if kind == "binary":
        return 1
    if kind in ("multiclass", "multilabel", "regression"):
        return len(labels)
    return output.get("width")


def complete_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Check a spec and return a copy with ``format``, input widths and the raw column list filled.

    Raises:
        SpecProblem: A key is missing or has the wrong type; the message names it.
    """
    spec = json.loads(json.dumps(spec))  # a plain-data copy; fails early on values JSON cannot hold
    if spec.get("format", PREPROCESS_FORMAT) != PREPROCESS_FORMAT:
        raise SpecProblem(f"format {spec.get('format')!r} is not {PREPROCESS_FORMAT!r}")
    spec["format"] = PREPROCESS_FORMAT
    inputs = _need(spec, "inputs", "the spec", list)
    if not inputs:
        raise SpecProblem("the spec's inputs list is empty")
    columns: dict[str, str] = {}
    names: set[str] = set()
    for i, entry in enumerate(inputs):
        where = f"inputs[{i}]"
        name = _need(entry, "name", where, str)
        if name in names:
            raise SpecProblem(f"{where}.name {name!r} is used twice")
        names.add(name)
        dtype = entry.setdefault("dtype", "float32")
        if dtype not in _INPUT_DTYPES:
            raise SpecProblem(f"{where}.dtype must be one of {list(_INPUT_DTYPES)}, got {dtype!r}")
        width = 0
        for j, part in enumerate(_need(entry, "parts", where, list)):
            part_width, used = _part_width(part, f"{where}.parts[{j}]")
            width += part_width
            for column, kind in used:
                columns.setdefault(column, kind)
        entry["width"] = width
    output = _need(spec, "output", "the spec", dict)
    kind = _need(output, "kind", "output", str)
    if kind not in OUTPUT_KINDS:
        raise SpecProblem(f"output.kind must be one of {list(OUTPUT_KINDS)}, got {kind!r}")
    if kind != "raw":
        labels = _need(output, "labels", "output", list)
        if kind == "binary" and len(labels) != 2:
            raise SpecProblem(f"output.labels of a binary output needs 2 labels, got {len(labels)}")
        output["labels"] = [str(label) for label in labels]
    output.setdefault("name", "prediction")
    if kind in ("binary", "multilabel"):
        output.setdefault("threshold", 0.5)
    output.setdefault("target_scaling", None)
    output["width"] = output_width(output)
    spec.setdefault("task", None if kind == "raw" else kind)
    spec.setdefault("targets", [])
    spec.setdefault("id_column", None)
    reader = spec.setdefault("reader", {})
    reader.setdefault("delimiter", ",")
    dtypes = {"numeric": "float32", "categorical": "string"}
    spec["columns"] = [{"name": c, "kind": k, "dtype": dtypes[k]} for c, k in columns.items()]
    ordered = {key: spec[key] for key in _ORDER if key in spec}
    ordered.update((key, value) for key, value in spec.items() if key not in _ORDER)
    return ordered


#: the order of the top-level keys in the written file
_ORDER = ("format", "task", "targets", "id_column", "reader", "columns", "inputs", "output")


def read_spec(path: str | Path) -> dict[str, Any]:
    """Read ``preprocess.json`` and check it.

    Raises:
        FileNotFoundError: There is no such file.
        SpecProblem: It is not JSON, is another format or version, or lacks a documented key.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise SpecProblem(f"it is not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(spec, dict):
        raise SpecProblem("it is not a JSON object")
    found = spec.get("format")
    if found != PREPROCESS_FORMAT:
        raise SpecProblem(
            f"its format is {found!r}; this lightkit reads {PREPROCESS_FORMAT!r}"
            + (
                " (written by a newer lightkit?)"
                if isinstance(found, str) and found.startswith("lightkit-")
                else ""
            )
        )
    return complete_spec(spec)


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with two-space indents; lists of plain values and short flat objects stay on one line."""
    pad, inner = " " * indent, " " * (indent + 2)
    flat = json.dumps(value, ensure_ascii=False)
    if (
        isinstance(value, dict)
        and all(not isinstance(v, (dict, list)) for v in value.values())
        and len(flat) <= 96
    ):
        return flat
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {dumps(v, indent + 2)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(f"{inner}{dumps(v, indent + 2)}" for v in value) + f"\n{pad}]"
    return flat
