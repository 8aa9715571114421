"""What a command reads, for the output-path guard (:func:`lightkit.files.check_output`).

A command's inputs are its ``--config`` files, its checkpoint and every config value that names
an existing file (``data.path``, a plugin's ``image_dir`` file, ...), whatever the component.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightkit.cli.argv import config_values

__all__ = ["argv_inputs", "command_inputs"]


def _leaves(value: Any, key: str = "") -> list[tuple[str, Any]]:
    if hasattr(value, "as_dict"):  # a jsonargparse Namespace
        value = value.as_dict()
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item, key)]
    return [(key, value)]


def _is_file(text: str) -> bool:
    try:
        return bool(text) and "\n" not in text and len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):
        return False


def command_inputs(
    config: Any,
    argv: list[str] | None,
    skip: tuple[str, ...] = ("run.output", "trainer.callbacks.output_path"),  # PredictionWriter's
) -> dict[str, str]:
    """The files a command reads: path -> where it came from (``--data.path``, ``--config``).

    Args:
        config: The command's parsed config (a jsonargparse ``Namespace`` or a dict).
        argv: The command line, for its ``--config`` files.
        skip: Keys that are outputs, not inputs.
    """
    found: dict[str, str] = {}
    for value in config_values(list(argv or [])):
        if _is_file(value):
            found.setdefault(value, "--config")
    for key, value in _leaves(config):
        name = key.replace(".init_args.", ".")
        if name in skip or not isinstance(value, (str, Path)) or not _is_file(str(value)):
            continue
        found.setdefault(str(value), f"--{name}")
    return found


def argv_inputs(argv: list[str], skip: tuple[str, ...] = ("--run.output",)) -> dict[str, str]:
    """The files a command line names: path -> flag, for commands that have no parsed config yet."""
    found: dict[str, str] = {}
    for i, arg in enumerate(argv):
        if not arg.startswith("--"):
            continue
        flag, eq, value = arg.partition("=")
        value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
        if flag not in skip and _is_file(value):
            found.setdefault(value, flag)
    return found
