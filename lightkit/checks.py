"""Domain checks for numeric arguments, in lightkit's short error style, before torch sees a value.

Each check raises :class:`~lightkit.errors.ConfigError` as ``model.lr must be a finite number
> 0, got -1.0``; the renderer adds where the key was set (``(from --model.lr)`` or
``(from bad.yaml, line 4)``), so the message names the value, its source and what is valid.
Components call these in ``__init__``::

    positive("model.lr", lr)
    fraction("model.dropout", dropout)

This module imports only the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from lightkit.errors import ConfigError

__all__ = ["at_least", "fraction", "in_range", "non_negative", "ordered", "positive", "positive_each"]


def _is_number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def _refuse(name: str, what: str, value: Any, hint: str | None = None) -> ConfigError:
    return ConfigError(f"{name} must be {what}, got {value!r}", hint)


def positive(name: str, value: Any, integer: bool = False) -> None:
    """``value`` is a finite number above 0 (an integer from 1 with ``integer``)."""
    if integer:
        at_least(name, value, 1, integer=True)
    elif not _is_number(value, False) or value <= 0:
        raise _refuse(name, "a finite number > 0", value)


def non_negative(name: str, value: Any) -> None:
    """``value`` is a finite number from 0."""
    if not _is_number(value, False) or value < 0:
        raise _refuse(name, "a finite number >= 0", value)


def at_least(name: str, value: Any, low: int | float, integer: bool = False) -> None:
    """``value`` is at least ``low`` (and an integer with ``integer``)."""
    if not _is_number(value, integer) or value < low:
        raise _refuse(name, f"{'an integer' if integer else 'a finite number'} >= {low}", value)


def fraction(name: str, value: Any) -> None:
    """``value`` is in ``[0, 1)``."""
    if not _is_number(value, False) or not 0.0 <= value < 1.0:
        raise _refuse(name, "in [0, 1)", value)


def in_range(name: str, value: Any, low: int | float, high: int | float, integer: bool = False) -> None:
    """``value`` is in ``[low, high]``."""
    if not _is_number(value, integer) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise _refuse(name, f"{kind} in [{low}, {high}]", value)


def positive_each(name: str, values: Iterable[Any]) -> None:
    """Every item of ``values`` is an integer from 1."""
    values = list(values)
    if any(not _is_number(value, True) or value < 1 for value in values):
        raise ConfigError(f"{name} must hold only integers >= 1, got {values!r}")


def ordered(low_name: str, low: Any, high_name: str, high: Any) -> None:
    """``low`` is below ``high`` (a range given the right way round)."""
    if _is_number(low, False) and _is_number(high, False) and not low < high:
        raise ConfigError(
            f"{low_name} ({low!r}) must be below {high_name} ({high!r}): the range is backwards or empty",
            "swap the two values, or widen the range.",
        )
