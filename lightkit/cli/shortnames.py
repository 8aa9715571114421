"""Registered short names wherever LightningCLI takes a class: flags, configs, ``callbacks+=``.

Two pieces:

* :func:`install_resolver` teaches jsonargparse to turn a registered name into its class path.
  It wraps ``jsonargparse._typehints.resolve_class_path_by_name``, the one function through which
  jsonargparse maps a bare class name to an import path; a full class path passes through unchanged.
* :func:`check_selected` finds the names a command selects (on the command line and in every
  ``--config`` file), before parsing, and loads exactly those plugins. Unknown, colliding or
  broken names fail here with one short message instead of jsonargparse's usage dump.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightkit import registry
from lightkit.cli.argv import config_values
from lightkit.config_yaml import load_yaml
from lightkit.errors import ConfigError, PluginNotFound

__all__ = [
    "Selection",
    "check_selected",
    "install_resolver",
    "kinds_of_class",
    "selected_names",
]

#: command-line keys that take a class, and the plugin kind each one selects
_FLAG_KINDS: dict[str, str] = {
    "--model": "models",
    "--data": "datamodules",
    "--trainer.callbacks": "callbacks",
    "--trainer.callbacks+": "callbacks",
    "--model.help": "models",
    "--data.help": "datamodules",
    "--trainer.callbacks.help": "callbacks",
}


@dataclass(frozen=True)
class Selection:
    """A class name a command selects, and where it was written."""

    kind: str
    name: str
    source: str


def kinds_of_class(cls: Any) -> list[str]:
    """The plugin kinds a class (or a tuple of classes) belongs to; imports Lightning."""
    import lightning.pytorch as pl

    classes = cls if isinstance(cls, tuple) else (cls,)
    kinds = []
    for c in classes:
        if not isinstance(c, type):
            continue
        if issubclass(c, pl.LightningModule):
            kinds.append("models")
        elif issubclass(c, pl.LightningDataModule):
            kinds.append("datamodules")
        elif issubclass(c, pl.Callback):
            kinds.append("callbacks")
    return kinds


def install_resolver() -> None:
    """Let jsonargparse resolve registered short names; idempotent."""
    import jsonargparse._typehints as typehints

    original = typehints.resolve_class_path_by_name
    if getattr(original, "_lightkit", False):
        return

    def resolve_class_path_by_name(cls: Any, name: str) -> str:
        if isinstance(name, str) and "." not in name:
            for kind in kinds_of_class(cls):
                target = registry.resolve_target(kind, name)
                if target is not None:
                    return target
        return original(cls, name)

    resolve_class_path_by_name._lightkit = True  # type: ignore[attr-defined]
    resolve_class_path_by_name.__wrapped__ = original  # type: ignore[attr-defined]
    typehints.resolve_class_path_by_name = resolve_class_path_by_name


def _read_config(value: str) -> tuple[Any, str]:
    """The parsed YAML of a ``--config`` value (a path, or inline YAML) and a label for messages."""
    path = Path(value)
    looks_inline = "\n" in value or value.lstrip().startswith("{")
    if not looks_inline and not path.is_file():
        if path.suffix in (".yaml", ".yml", ".json") or not path.exists():
            hint = "check the path; relative paths are taken from the current directory."
            raise ConfigError(f"config file {value!r} (from --config) not found", hint)
    text = value if looks_inline else path.read_text()
    label = "--config" if looks_inline else value
    return load_yaml(text, label), label  # the config loader: bounded aliases, no duplicate keys


def _names_in(value: Any) -> Iterator[str]:
    """Class names in a component value: ``Name``, ``{class_path: Name}``, or a list of those."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and isinstance(value.get("class_path"), str):
        yield value["class_path"]
    elif isinstance(value, list):
        for item in value:
            yield from _names_in(item)


def selected_names(args: list[str], subcommand: str | None) -> list[Selection]:
    """Every class a command selects through a bare (not dotted) name, config files first."""
    found: list[Selection] = []
    for value in config_values(args):
        data, label = _read_config(value)
        if not isinstance(data, dict):
            continue
        if subcommand and isinstance(data.get(subcommand), dict):
            data = data[subcommand]
        trainer = data.get("trainer") if isinstance(data.get("trainer"), dict) else {}
        for key, kind, section in (
            ("model", "models", data),
            ("data", "datamodules", data),
            ("callbacks", "callbacks", trainer),
        ):
            for name in _names_in(section.get(key)):
                found.append(
                    Selection(kind, name, f"{label}, {'trainer.' if key == 'callbacks' else ''}{key}")
                )
    for i, arg in enumerate(args):
        flag, _, value = arg.partition("=")
        if flag not in _FLAG_KINDS:
            continue
        if not value:
            value = args[i + 1] if i + 1 < len(args) else ""
        is_empty = value.strip().lower() in ("null", "none", "~", "")  # e.g. --trainer.callbacks=null
        if not is_empty and not value.startswith("-") and not value.lstrip().startswith(("{", "[")):
            found.append(Selection(_FLAG_KINDS[flag], value, flag.rstrip("+")))
    return [s for s in found if s.name and "." not in s.name]


def check_selected(args: list[str], subcommand: str | None) -> list[type]:
    """Load the plugins a command selects; raise a short error for unknown, colliding or broken ones."""
    import lightning.pytorch as pl
    from jsonargparse._typehints import get_all_subclass_paths

    bases = {"models": pl.LightningModule, "datamodules": pl.LightningDataModule, "callbacks": pl.Callback}
    loaded: list[type] = []
    for sel in selected_names(args, subcommand):
        if any(p.name == sel.name for p in registry.list_plugins(sel.kind)):
            loaded.append(registry.load(registry.find(sel.kind, sel.name, source=sel.source)))
            continue
        known = [p.rsplit(".", 1)[1] for p in get_all_subclass_paths(bases[sel.kind])]
        if sel.name in known:  # an imported class jsonargparse resolves by itself, e.g. EarlyStopping
            continue
        names = sorted({p.name for p in registry.list_plugins(sel.kind)} | set(known))
        hint = registry.did_you_mean(sel.name, names, n=3)
        noun = registry.noun(sel.kind)
        raise PluginNotFound(
            f"unknown {noun} {sel.name!r} (from {sel.source})",
            hint + "See `lightkit plugins list`, or give a full class path.",
        )
    return loaded
