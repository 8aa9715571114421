"""A resolved config as tracker parameters: one dotted key per value, each key once.

``{"model": {"init_args": {"lr": 0.003}}}`` becomes ``{"model.init_args.lr": "0.003"}``. Lists of
mappings (``trainer.callbacks``) are numbered (``trainer.callbacks.0.class_path``); other lists
are one value (``model.init_args.hidden_sizes: "[64, 32]"``). Values are written as in YAML flow
style (``true``, ``null``, ``[64, 32]``) and cut to the tracker's limit with a marker; the whole
config is always there too, as the ``config.yaml`` artifact. This module imports only the
standard library.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = ["TRUNCATED", "flatten_config", "param_value"]

#: what ends a value that was cut to fit the tracker's limit
TRUNCATED = "...[truncated; see config.yaml]"

_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]")


def param_value(value: Any, limit: int) -> str:
    """``value`` as a parameter string of at most ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def _key(key: str, limit: int) -> str:
    key = _KEY_CHARS.sub("_", key)
    if len(key) <= limit:
        return key
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"{key[: limit - 9]}~{digest}"


def _leaves(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            return [(prefix, value)] if prefix else []
        return [leaf for k, v in value.items() for leaf in _leaves(f"{prefix}.{k}" if prefix else str(k), v)]
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(f"{prefix}.{i}", v)]
    return [(prefix, value)]


def flatten_config(config: dict[str, Any], value_limit: int = 6000, key_limit: int = 250) -> dict[str, str]:
    """Every leaf of ``config`` under its dotted key, in config order.

    Keys are made of the characters trackers accept (others become ``_``) and kept under
    ``key_limit`` (a long key ends in a short hash, so two long keys stay apart). When two keys
    come out the same, the first one wins: a key is never logged twice.
    """
    params: dict[str, str] = {}
    for key, value in _leaves("", config):
        name = _key(key, key_limit)
        if name not in params:
            params[name] = param_value(value, value_limit)
    return params
