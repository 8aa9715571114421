"""The one place where an error becomes a few lines on stderr and an exit code."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from lightkit.errors import LightkitError

__all__ = ["debug_enabled", "print_error"]

_MAX_LINES = 10


def debug_enabled() -> bool:
    """Whether ``--debug`` or ``LIGHTKIT_DEBUG=1`` asked for tracebacks."""
    return os.environ.get("LIGHTKIT_DEBUG", "").lower() not in ("", "0", "false", "no")


def print_error(err: LightkitError, stream: TextIO | None = None) -> int:
    """Print ``err`` as ``error: ...`` and ``hint: ...`` lines; returns its exit code."""
    stream = stream or sys.stderr
    lines = [f"error: {line}" if i == 0 else f"  {line}" for i, line in enumerate(err.message.splitlines())]
    if len(lines) > _MAX_LINES - 2:
        lines = [*lines[: _MAX_LINES - 3], "  ..."]
    if err.hint:
        lines.append(f"hint: {err.hint}")
    if err.exit_code != 2:
        lines.append("(run with --debug or LIGHTKIT_DEBUG=1 for the traceback)")
    stream.write("\n".join(lines) + "\n")
    stream.flush()
    return err.exit_code
