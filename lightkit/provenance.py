"""Where each value of a composed config came from: a default, a file and line, a flag, a checkpoint."""

from __future__ import annotations

from typing import Any

__all__ = ["flatten"]


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; ``init_args`` levels are dropped, as on the command line."""
    flat: dict[str, Any] = {}
    if isinstance(data, dict) and data:
        for key, value in data.items():
            if key == "init_args":
                flat.update(flatten(value, prefix))
                continue
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    flat[prefix.rstrip(".")] = data
    return flat
