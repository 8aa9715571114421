"""Where a config key was set: the flag, or the config file and line (from YAML node marks).

The command line is read in order, as jsonargparse applies it, so the last flag or ``--config``
that sets a key is the one reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from lightkit.cli.argv import config_values

__all__ = ["config_values", "is_mapping", "locate"]

#: component keys whose values are ``class_path`` + ``init_args``
COMPONENTS = ("model", "data", "optimizer", "lr_scheduler")


def _paths(key: str, subcommand: str | None) -> list[list[str]]:
    """The spellings of ``key`` in a config: with and without ``init_args``, with the subcommand."""
    parts = key.split(".")
    spellings = [parts]
    if len(parts) > 1 and parts[0] in COMPONENTS:
        spellings.append([parts[0], "init_args", *parts[1:]])
    if subcommand:
        spellings += [[subcommand, *p] for p in list(spellings)]
    return spellings


def _line_of(node: Any, path: list[str]) -> int | None:
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        match = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        if match is None:
            return None
        key_node = next(k for k, v in node.value if v is match)
        node, line = match, key_node.start_mark.line + 1
    return line if path else None


def _compose(text: str) -> Any:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _in_config(value: str, key: str, subcommand: str | None) -> str | None:
    """``file, line N`` when the config ``value`` (a path or inline YAML) sets ``key``."""
    inline = "\n" in value or value.lstrip().startswith("{")
    try:
        root = _compose(value if inline else Path(value).read_text())
    except (OSError, UnicodeDecodeError):
        return None
    for path in _paths(key, subcommand):
        line = _line_of(root, path)
        if line is not None:
            return "the inline --config" if inline else f"{value}, line {line}"
    return None


def locate(key: str, argv: Iterable[str] | None, subcommand: str | None = None) -> str | None:
    """Where ``key`` was last set on the command line ``argv``; later settings override earlier ones.

    That is a flag (``--model.lr``), a config file with the line (``base.yaml, line 4``), or a flag
    that sets a whole component as YAML (``--model '{class_path: ..., init_args: {lr: 1}}'``).
    """
    argv = list(argv or [])
    parts = key.split(".")
    exact = {"--" + ".".join(p) for p in _paths(key, None)}
    found = None
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if not flag.startswith("-"):
            continue
        flag = flag.rstrip("+")  # --trainer.callbacks+=X appends
        value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
        if flag in exact:
            found = flag
        elif flag in ("--config", "-c"):
            found = _in_config(value, key, subcommand) or found
        elif flag.startswith("--") and parts[: flag.count(".") + 1] == flag[2:].split(".") and len(parts) > 1:
            rest = ".".join(parts[flag.count(".") + 1 :])
            root = _compose(value) if value.lstrip().startswith("{") else None
            if root is not None and any(_line_of(root, p) for p in ([*rest.split(".")], ["init_args", *rest.split(".")])):
                found = flag
    if found is None and any(a.split("=", 1)[0] == "--ckpt_path" for a in argv):
        return "the checkpoint's stored config"
    return found


def is_mapping(value: str) -> bool:
    """Whether the config ``value`` (a path or inline YAML) is a mapping, or cannot be read here."""
    inline = "\n" in value or value.lstrip().startswith("{")
    try:
        data = yaml.safe_load(value if inline else Path(value).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True
    return isinstance(data, dict)
