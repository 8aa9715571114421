"""Which records of a run directory are damaged: there, but not readable as what they should be.

``lightkit runs`` reads records written by other processes, other versions, or truncated by a
full disk. A record that does not parse, or parses to the wrong shape (``state.json`` holding a
list, a start time that is text, a state lightkit never writes), is reported as damaged, by path
and reason, and nothing is read from it: no state or duration is inferred from a damaged
``state.json``, and a damaged ``metrics.csv`` gives no metrics. Every other run is read as usual.

This module imports only the standard library (and PyYAML, lazily, for ``config.yaml``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["STATES", "record_problems"]

#: the states ``state.json`` may record (see :func:`lightkit.runs.record.write_state`)
STATES = ("running", "finished", "failed", "interrupted")
_STATE_TIMES = ("started", "ended", "part_started", "earlier_s")


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"not UTF-8 text (byte 0x{data[err.start]:02x} on line {line})") from None


def _json_object(path: Path) -> dict[str, Any]:
    text = _text(path)
    try:
        data = json.loads(text)
    except ValueError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise ValueError(f"not valid JSON ({where}: {err.msg.lower()})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    return data


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _times_checked(data: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in data and data[key] is not None and not (_number(data[key]) and 0 <= data[key] < 1e11):
            raise ValueError(f"{key!r} is {data[key]!r}, not a time")
    if "pid" in data and data["pid"] is not None and not (isinstance(data["pid"], int) and data["pid"] > 0):
        raise ValueError(f"'pid' is {data['pid']!r}, not a process id")


def _state(path: Path) -> None:
    data = _json_object(path)
    if data.get("state") not in STATES:
        raise ValueError(f"'state' is {data.get('state')!r}, not one of {', '.join(STATES)}")
    _times_checked(data, _STATE_TIMES)
    start, end = data.get("part_started", data.get("started")), data.get("ended")
    if _number(start) and _number(end) and end < start:
        raise ValueError("it ends before it starts")


def _versions(path: Path) -> None:
    _times_checked(_json_object(path), ("unix_time",))


def _metrics(path: Path) -> None:
    text = _text(path)
    if text and not text.endswith("\n"):  # a line being written by the running run
        text = text[: text.rfind("\n") + 1]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise ValueError(f"not CSV ({err})") from None
    if not rows:
        return
    header = rows[0]
    counters = [i for i, name in enumerate(header) if name in ("epoch", "step")]
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != len(header):
            raise ValueError(f"line {number} has {len(row)} fields, the header {len(header)}")
        for i in counters:
            if row and row[i] != "" and not _counter(row[i]):
                raise ValueError(f"line {number} has {header[i]} {row[i]!r}, not a count")


def _counter(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0 and value == int(value)


def _config(path: Path) -> None:
    from lightkit.config_yaml import load_yaml
    from lightkit.errors import LightkitError

    try:
        data = load_yaml(_text(path), str(path))
    except LightkitError as err:
        raise ValueError(err.message.replace(f"{path}", "").strip(" :,") or "not YAML") from None
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"a YAML {type(data).__name__}, not a mapping")


_CHECKS = {
    "state.json": _state,
    "versions.json": _versions,
    "metrics.csv": _metrics,
    "config.yaml": _config,
    "tracking.json": _json_object,
}


def record_problems(run: Path) -> dict[str, str]:
    """``{file name: why}`` for each record of ``run`` that exists but is damaged."""
    problems: dict[str, str] = {}
    for name, check in _CHECKS.items():
        path = Path(run) / name
        if not path.exists():
            continue
        try:
            if not path.is_file():
                raise ValueError("not a file")
            check(path)
        except ValueError as err:
            problems[name] = str(err)
        except OSError as err:
            problems[name] = f"cannot be read: {err.strerror or err}"
    return problems
