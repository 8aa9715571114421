"""Handing freed memory back to the system, where the C library keeps it for reuse.

glibc serves a large allocation from its own memory mapping (returned when freed) only above a
threshold that rises each time such a mapping is freed (up to 32 MiB); below it, memory comes from
the heap, and a freed block in the middle of the heap stays with the process. When a table's
columns are freed one by one while new blocks are filled (:mod:`lightkit.components.preprocessing`),
that memory would count twice in the peak. ``malloc_trim(0)`` gives those pages back. It is
glibc's own call, with no Python or numpy equivalent; elsewhere (musl, macOS, Windows) this is a
no-op, as their allocators do not keep memory the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable

__all__ = ["release_free_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_free_memory() -> None:
    """Return the free pages of the C heap to the system (glibc), so that they leave the RSS."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
