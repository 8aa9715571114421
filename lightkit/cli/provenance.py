"""Where each value of a composed config came from: a default, a file and line, a flag, a checkpoint.

Layers apply in this order, each overriding the ones before it::

    defaults < checkpoint (--ckpt_path) < --config files, left to right < flags, left to right

Keys are written as on the command line: ``init_args`` levels are dropped, so ``model.lr`` is the
``lr`` init argument of the model whatever its class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Layer", "Source", "config_layers", "flatten", "sources", "yaml_lines"]

#: options that are about the command, not config values
_NOT_VALUES = {"--config", "-c", "--print_config", "--help", "-h"}


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


def yaml_lines(text: str) -> dict[str, int]:
    """Flattened key -> 1-based line where the YAML ``text`` sets it."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                path = prefix if key == "init_args" else f"{prefix}{key}."
                if key != "init_args":
                    lines[path.rstrip(".")] = key_node.start_mark.line + 1
                walk(value_node, path)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if root is not None:
        walk(root, "")
    return lines


@dataclass(frozen=True)
class Layer:
    """One source of config values: its label, the keys it sets, and their lines if it is a file."""

    label: str
    values: dict[str, Any]
    lines: dict[str, int]


@dataclass(frozen=True)
class Source:
    """The final value of one key and the layer that set it."""

    key: str
    value: Any
    source: str


def _flag_key(flag: str) -> str:
    key = flag[2:].rstrip("+").replace(".init_args.", ".")
    return f"{key}.class_path" if key in ("model", "data", "optimizer", "lr_scheduler") else key


def config_layers(args: list[str], subcommand: str, checkpoint: tuple[str, dict[str, Any]] | None) -> list[Layer]:
    """The layers of a command line, lowest first: checkpoint, config files, then flags."""
    from pathlib import Path

    layers: list[Layer] = []
    if checkpoint is not None:
        label, data = checkpoint
        layers.append(Layer(f"checkpoint {label}", flatten(data), {}))
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        has_value = bool(eq)
        value = inline if has_value else (args[i + 1] if i + 1 < len(args) else "")
        step = 1 if has_value else 2
        if flag in ("--config", "-c"):
            text = Path(value).read_text() if Path(value).is_file() else value
            data = yaml.safe_load(text) or {}
            if isinstance(data, dict) and isinstance(data.get(subcommand), dict):
                data = data[subcommand]
            lines = yaml_lines(text)
            if isinstance(data, dict):
                layers.append(Layer(value if Path(value).is_file() else "--config", flatten(data), lines))
            i += step
            continue
        if flag.startswith("--") and flag not in _NOT_VALUES and not flag.endswith(".help"):
            if not has_value and (value.startswith("--") or i + 1 >= len(args)):
                value, step = "true", 1
            layers.append(Layer(flag, {_flag_key(flag): value}, {}))
            i += step
            continue
        i += 1
    return layers


def _covers(layer_key: str, key: str) -> bool:
    layer_key = layer_key.rstrip("+")
    return key == layer_key or key.startswith(layer_key + ".")


def sources(final: dict[str, Any], layers: list[Layer]) -> list[Source]:
    """For every key of the ``final`` (flattened) config, the last layer that set it, else ``default``."""
    out: list[Source] = []
    for key, value in final.items():
        origin = "default"
        for layer in layers:
            for layer_key in layer.values:
                if _covers(layer_key, key):
                    line = layer.lines.get(layer_key) or layer.lines.get(key)
                    here = f"{layer.label}:{line}" if line else layer.label
                    appended = layer_key.endswith("+") and origin != "default"
                    origin = f"{origin} + {here}" if appended else here
        out.append(Source(key, value, origin))
    return out
