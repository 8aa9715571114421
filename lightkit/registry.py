"""The plugin registry: components found through entry points, loaded one at a time.

Discovery reads entry-point metadata only (``importlib.metadata``); nothing is imported
until :func:`load` is called for the one name a user selected. A plugin that fails to
import therefore breaks only the command that selects it.

Entry-point groups, one per kind::

    lightkit.models       LightningModule subclasses
    lightkit.datamodules  LightningDataModule subclasses
    lightkit.callbacks    Callback subclasses

The entry-point name is the short name users type (``--model TabularMLP``).
This module imports only the standard library; torch is imported by :func:`load` alone.
"""

from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from lightkit.errors import PluginBroken, PluginCollision, PluginNotFound

__all__ = [
    "KINDS",
    "Plugin",
    "collisions",
    "did_you_mean",
    "find",
    "list_plugins",
    "load",
    "named",
    "noun",
    "refresh",
    "resolve_target",
    "suggest",
]

#: kind -> entry-point group
KINDS: dict[str, str] = {
    "models": "lightkit.models",
    "datamodules": "lightkit.datamodules",
    "callbacks": "lightkit.callbacks",
}

#: kind -> (module, class) of the base class its plugins must subclass
_BASES: dict[str, tuple[str, str]] = {
    "models": ("lightning.pytorch", "LightningModule"),
    "datamodules": ("lightning.pytorch", "LightningDataModule"),
    "callbacks": ("lightning.pytorch", "Callback"),
}

#: kind -> the word used in messages
_NOUN: dict[str, str] = {"models": "model", "datamodules": "data module", "callbacks": "callback"}


@dataclass(frozen=True)
class Plugin:
    """One registered component, described from metadata alone.

    Attributes:
        name: The short name users type.
        kind: ``models``, ``datamodules`` or ``callbacks``.
        target: ``module:attribute`` as written in the entry point.
        distribution: The distribution that registers it.
        version: That distribution's version.
    """

    name: str
    kind: str
    target: str
    distribution: str
    version: str

    @property
    def class_path(self) -> str:
        """The dotted import path jsonargparse and LightningCLI understand."""
        return self.target.replace(":", ".")

    @property
    def module(self) -> str:
        """The module that :func:`load` imports."""
        return self.target.split(":", 1)[0]


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def name_and_version(dist: Any) -> tuple[str, str]:
    """``(name, version)`` of an ``importlib.metadata`` distribution, ``"?"`` where it has none.

    ``Name`` and ``Version`` head every METADATA file (core metadata spec), so they are read from
    its header lines, much faster than ``dist.metadata``'s full e-mail-style parse, which is the
    fallback. Used by discovery and by the help cache's fingerprint of the environment.
    """
    found: dict[str, str] = {}
    for line in (dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "").splitlines():
        if not line.strip():
            break
        field, _, value = line.partition(":")
        if field in ("Name", "Version") and field not in found:
            found[field] = value.strip()
    if len(found) < 2:
        meta = dist.metadata
        found = {"Name": (meta and meta["Name"]) or "?", "Version": (meta and meta["Version"]) or "?"}
    return found["Name"], found["Version"]


def _describe(dist: Any, seen: dict[int, tuple[str, str]]) -> tuple[str, str]:
    """``(name, version)`` of a distribution, read once per distribution."""
    if dist is None:
        return "?", "?"
    key = id(dist)
    if key not in seen:
        seen[key] = name_and_version(dist)
    return seen[key]


@lru_cache(maxsize=1)
def _all_plugins() -> tuple[Plugin, ...]:
    # One pass over the installed distributions: each entry_points.txt is read once, and each
    # METADATA file only for distributions that register something in lightkit's groups.
    every = entry_points()
    seen: dict[int, tuple[str, str]] = {}
    found: list[Plugin] = []
    for kind, group in KINDS.items():
        for ep in every.select(group=group):
            distribution, version = _describe(ep.dist, seen)
            found.append(Plugin(ep.name, kind, ep.value.strip(), distribution, version))
    order = list(KINDS)
    return tuple(sorted(found, key=lambda p: (order.index(p.kind), _natural_key(p.name), p.distribution)))


def refresh() -> None:
    """Forget what was discovered, e.g. after installing a distribution in-process."""
    _all_plugins.cache_clear()


def list_plugins(kind: str | None = None) -> list[Plugin]:
    """All registered plugins, optionally of one kind; reads metadata only.

    Args:
        kind: ``models``, ``datamodules`` or ``callbacks``; ``None`` for all.
    """
    return [p for p in _all_plugins() if kind is None or p.kind == kind]


def named(name: str, kind: str | None = None) -> list[Plugin]:
    """Every plugin registered as ``name``, of any kind or of one; reads metadata only."""
    return [p for p in list_plugins(kind) if p.name == name]


def collisions(kind: str | None = None) -> dict[tuple[str, str], list[Plugin]]:
    """``(kind, name)`` -> the plugins, for every short name offered by more than one distribution."""
    groups: dict[tuple[str, str], list[Plugin]] = {}
    for p in list_plugins(kind):
        groups.setdefault((p.kind, p.name), []).append(p)
    return {key: plugins for key, plugins in groups.items() if len(plugins) > 1}


def noun(kind: str) -> str:
    """The word for a kind in messages: ``model``, ``data module`` or ``callback``."""
    return _NOUN[kind]


def suggest(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """The closest names to ``name``, best first, for "did you mean" hints."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[c] for c in close]


def did_you_mean(name: str, candidates: list[str], n: int = 1, quote: str = "{!r}") -> str:
    """``"did you mean 'wine'? "`` for the closest of ``candidates`` (up to ``n``, joined by "or"), or ``""``.

    Args:
        name: What was given.
        candidates: The valid names.
        n: How many close names to offer.
        quote: How each name is written (``"'--{}'"`` for flags).
    """
    close = suggest(name, candidates, n=n)
    return f"did you mean {' or '.join(quote.format(c) for c in close)}? " if close else ""


def find(kind: str, name: str, *, source: str = "") -> Plugin:
    """The one plugin of ``kind`` named ``name``.

    Args:
        kind: ``models``, ``datamodules`` or ``callbacks``.
        name: The short name.
        source: Where the name came from, for messages (``--model``, ``base.yaml``).

    Raises:
        PluginNotFound: No plugin has that name; the hint lists the closest names.
        PluginCollision: Two distributions offer that name; the hint shows how to choose.
    """
    matches = named(name, kind)
    where = f" (from {source})" if source else ""
    word = _NOUN[kind]
    if not matches:
        hint = did_you_mean(name, [p.name for p in list_plugins(kind)], n=3)
        hint += "See `lightkit plugins list`, or give a full class path."
        raise PluginNotFound(f"unknown {word} {name!r}{where}", hint)
    if len(matches) > 1:
        options = ", ".join(f"{p.class_path} (from {p.distribution})" for p in matches)
        raise PluginCollision(
            f"{word} name {name!r}{where} is registered by {len(matches)} distributions: "
            + ", ".join(p.distribution for p in matches),
            f"give the full class path instead: {options}; or uninstall one of them.",
        )
    return matches[0]


def resolve_target(kind: str, name: str) -> str | None:
    """The class path for a registered short name, or ``None`` if it is not one; no import.

    Raises:
        PluginCollision: The name is registered twice.
    """
    if "." in name or not named(name, kind):
        return None
    return find(kind, name).class_path


def load(plugin: Plugin) -> type:
    """Import one plugin and check that it is the right kind of class.

    Raises:
        PluginBroken: The import fails, the attribute is missing, or it is the wrong kind;
            the message names the distribution and the cause.
    """
    module_name, _, attr = plugin.target.partition(":")
    where = f"{_NOUN[plugin.kind]} {plugin.name!r} from {plugin.distribution} {plugin.version}"
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (Exception, SystemExit) as err:  # any error in third-party code must stay contained
        cause = (str(err).strip().splitlines() or [""])[0]
        raise PluginBroken(
            f"{where} cannot be loaded: {type(err).__name__}: {cause}".rstrip(": "),
            f"fix or reinstall {plugin.distribution}, or uninstall it: pip uninstall {plugin.distribution}",
        ) from err
    base_module, base_name = _BASES[plugin.kind]
    base = getattr(importlib.import_module(base_module), base_name)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise PluginBroken(
            f"{where} points to {plugin.target}, which is not a {base_name} subclass",
            f"its entry point in group {KINDS[plugin.kind]} must name a {base_name} subclass.",
        )
    return obj
