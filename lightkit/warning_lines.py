"""lightkit's own warnings as one line, ``warning: <message>``, without a file path or source line.

Python shows a warning as ``/path/to/module.py:247: UserWarning: <message>`` followed by the source
line that raised it: for a user of the ``lightkit`` command that is noise around the one thing to
read. Warnings raised from lightkit's modules (``stacklevel`` pointing into the package) get the
short form; everyone else's keep Python's.
"""

from __future__ import annotations

import warnings
from pathlib import Path

__all__ = ["install", "is_lightkit_file"]

_PACKAGE = Path(__file__).resolve().parent


def is_lightkit_file(filename: str) -> bool:
    """Whether ``filename`` is a module of the lightkit package."""
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE)
    except (OSError, ValueError):
        return False


def install() -> None:
    """Format lightkit's own warnings as ``warning: <message>``; idempotent.

    It replaces ``warnings.formatwarning``, not ``showwarning``: code that records warnings
    (``warnings.catch_warnings(record=True)``, ``pytest.warns``) still gets every one of them.
    """
    if getattr(warnings.formatwarning, "_lightkit_lines", False):
        return
    original = warnings.formatwarning

    def formatwarning(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
    ) -> str:
        if is_lightkit_file(filename):
            return f"warning: {message}\n"
        return original(message, category, filename, lineno, line)

    formatwarning._lightkit_lines = True  # type: ignore[attr-defined]
    warnings.formatwarning = formatwarning
