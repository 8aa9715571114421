"""``lightkit plugins``: list, show and check the installed plugins.

``list`` reads entry-point metadata only and imports neither torch nor any plugin; ``show``
imports the one plugin asked about; ``check`` imports every plugin, one at a time, and reports
each one's fate without letting one failure stop the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lightkit import registry
from lightkit.cli.command_parser import CommandParser
from lightkit.errors import PluginBroken, PluginError, PluginNotFound, UsageError
from lightkit.registry import KINDS, Plugin

__all__ = ["main"]

#: kind -> how a user selects a component of that kind on the command line
_USAGE: dict[str, str] = {
    "models": "--model {name}",
    "datamodules": "--data {name}",
    "callbacks": "--trainer.callbacks+={name}",
}


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="lightkit plugins", description="List, inspect and check the installed plugins.")
    sub = parser.add_subparsers(dest="action", metavar="{list,show,check}", parser_class=CommandParser)
    listing = sub.add_parser("list", help="Table of every registered plugin; imports none of them.")
    listing.add_argument("--kind", choices=list(KINDS), help="Only plugins of this kind.")
    listing.add_argument("--json", action="store_true", help="JSON for scripts instead of a table.")
    listing.add_argument("--names", action="store_true", help="Only the names, one per line.")
    show = sub.add_parser("show", help="A plugin's docstring and hyperparameters; imports only that plugin.")
    show.add_argument("name", help="Short name (as in `plugins list`) or full class path.")
    show.add_argument("--kind", choices=list(KINDS), help="Which kind, when several kinds share the name.")
    check = sub.add_parser("check", help="Import every plugin and report whether each one loads.")
    check.add_argument("--json", action="store_true", help="JSON for scripts instead of a table.")
    return parser


_ACTIONS = ("list", "show", "check")


def main(argv: list[str]) -> int:
    """Run ``lightkit plugins ARGV``; returns the exit code."""
    argv = list(argv) or ["list"]
    if not argv[0].startswith("-") and argv[0] not in _ACTIONS:
        close = registry.suggest(argv[0], list(_ACTIONS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(
            f"unknown plugins command {argv[0]!r}", hint + f"commands are: {', '.join(_ACTIONS)}."
        )
    args = _parser().parse_args(argv)
    try:
        if args.action == "show":
            return _show(args.name, args.kind)
        if args.action == "check":
            return _check(as_json=args.json)
        return _list(args.kind, args.json, args.names)
    except BrokenPipeError:  # `lightkit plugins list | head`: the reader left, which is fine
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# -- output helpers --------------------------------------------------------------------------------------
Cell = tuple[str, str]  # text, rich style


class _Out:
    """Writes lines and tables: with rich in a terminal, as plain aligned text otherwise.

    Piped output (scripts, ``| grep``, benchmarks) gets the same columns without importing rich,
    without colour codes and without wrapping at 80 columns, so it stays fast with hundreds of
    plugins installed.
    """

    def __init__(self) -> None:
        self.console: Any = None
        if sys.stdout.isatty():
            from rich.console import Console

            self.console = Console(file=sys.stdout, highlight=False)

    def line(self, text: str = "", style: str = "") -> None:
        if self.console is None:
            sys.stdout.write(text + "\n")
            return
        from rich.text import Text

        self.console.print(Text(text, style=style))

    def paragraphs(self, text: str) -> None:
        """Docstring text: kept as written when piped, re-wrapped to the terminal's width in one."""
        if self.console is None:
            sys.stdout.write(text.rstrip() + "\n")
            return
        for i, block in enumerate(text.split("\n\n")):
            if i:
                self.line()
            items: list[str] = []
            for raw in block.splitlines():
                if not items or raw.lstrip().startswith(("* ", "- ")):
                    items.append(raw.strip())
                else:
                    items[-1] += " " + raw.strip()
            for item in items:
                self.line(item)

    def table(self, columns: tuple[str, ...], rows: list[list[Cell]]) -> None:
        if self.console is None:
            widths = [max([len(c), *(len(r[i][0]) for r in rows)]) for i, c in enumerate(columns)]
            for cells in [[(c, "") for c in columns], *rows]:
                sys.stdout.write(
                    "  ".join(t.ljust(w) for (t, _), w in zip(cells, widths, strict=True)).rstrip() + "\n"
                )
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for cells in rows:
            table.add_row(
                *(Text(text, style=style) for text, style in cells)
            )  # Text: docstrings hold [brackets]
        self.console.print(table)


# -- list -------------------------------------------------------------------------------------------------
def _list(kind: str | None, as_json: bool, names_only: bool) -> int:
    plugins = registry.list_plugins(kind)
    if names_only:
        for name in dict.fromkeys(p.name for p in plugins):
            print(name)
        return 0
    if as_json:
        fields = ("name", "kind", "distribution", "version", "target")
        print(json.dumps([{f: getattr(p, f) for f in fields} for p in plugins], indent=2))
        return 0
    clashes = registry.collisions(kind)
    out = _Out()
    if not plugins:
        out.line(f"no plugins{f' of kind {kind}' if kind else ''} are registered.")
        return 0
    rows = []
    for p in plugins:
        clash = (p.kind, p.name) in clashes
        name = (p.name + " *", "bold red") if clash else (p.name, "bold")
        rows.append([name, (p.kind, ""), (p.distribution, ""), (p.version, ""), (p.target, "")])
    out.table(("name", "kind", "distribution", "version", "target"), rows)
    for (k, name), offers in clashes.items():
        paths = " or ".join(p.class_path for p in offers)
        out.line(
            f"* {registry.noun(k)} {name!r} is offered by {len(offers)} distributions; "
            f"select it by full class path: {paths}",
            "red",
        )
    return 0


# -- show -------------------------------------------------------------------------------------------------
def _matches(name: str, kind: str | None) -> list[Plugin]:
    if "." in name:
        return [p for p in registry.list_plugins(kind) if p.class_path == name] or [_unregistered(name, kind)]
    found = registry.named(name, kind)
    if not found:
        candidates = sorted({p.name for p in registry.list_plugins(kind)})
        close = registry.suggest(name, candidates)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise PluginNotFound(f"no plugin is registered as {name!r}", hint + "See `lightkit plugins list`.")
    by_kind: dict[str, list[Plugin]] = {}
    for p in found:
        by_kind.setdefault(p.kind, []).append(p)
    for k, plugins in by_kind.items():
        if len(plugins) > 1:
            registry.find(k, name)  # raises PluginCollision naming both distributions
    return found


def _unregistered(class_path: str, kind: str | None) -> Plugin:
    """A full class path that no entry point registers: shown all the same, its kind found on import."""
    module, _, attr = class_path.rpartition(".")
    target = f"{module}:{attr}"
    if kind is None:
        from lightkit.cli.shortnames import kinds_of_class

        try:
            import importlib

            cls = getattr(importlib.import_module(module), attr)
        except (Exception, SystemExit) as err:
            raise PluginBroken(
                f"cannot import {class_path!r}: {type(err).__name__}: {err}",
                "check the class path: package.module.ClassName.",
            ) from None
        kinds = kinds_of_class(cls)
        if not kinds:
            raise PluginError(
                f"{class_path!r} is not a LightningModule, LightningDataModule or Callback subclass"
            )
        kind = kinds[0]
    return Plugin(attr, kind, target, "(not registered)", "-")


def _describe_type(annotation: Any) -> str:
    """A type as a user writes it: ``int | None``, ``list[int]``, ``Literal['a', 'b']``."""
    import inspect
    import types
    import typing

    if annotation is inspect.Parameter.empty:
        return "-"
    if annotation is None or annotation is type(None):
        return "None"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_describe_type(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None and args:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        return f"{name}[{', '.join(_describe_type(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("collections.abc.", "")


def _describe_default(value: Any) -> str:
    import inspect

    if value is inspect.Parameter.empty:
        return "(required)"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parameters(cls: type) -> list[tuple[str, str, str, str]]:
    """``(name, type, default, help)`` of every ``__init__`` argument, as the CLI sees them."""
    from jsonargparse._parameter_resolvers import get_signature_parameters

    from lightkit.data.shape import SHAPE_KEYS

    rows = []
    for param in get_signature_parameters(cls, None):
        help_text = " ".join((param.doc or "").split()).replace("``", "`")
        if param.name in SHAPE_KEYS and param.default is None and "data module" not in help_text:
            help_text = (help_text + " " if help_text else "") + "[set from the data module]"
        rows.append(
            (param.name, _describe_type(param.annotation), _describe_default(param.default), help_text)
        )
    return rows


def _docstring(cls: type) -> str:
    """The class docstring without its ``Args:``/``Attributes:`` sections."""
    import inspect

    doc = inspect.getdoc(cls) or ""
    try:
        import docstring_parser
    except ImportError:  # jsonargparse's optional helper; without it, show the docstring whole
        return doc
    parsed = docstring_parser.parse(doc)
    text = "\n\n".join(part for part in (parsed.short_description, parsed.long_description) if part)
    return text.replace("``", "`")


def _show(name: str, kind: str | None) -> int:
    out = _Out()
    for i, plugin in enumerate(_matches(name, kind)):
        cls = registry.load(plugin)
        if i:
            out.line()
        out.line(
            f"{plugin.name} ({registry.noun(plugin.kind)}, {plugin.distribution} {plugin.version})", "bold"
        )
        out.line(f"target: {plugin.target}")
        out.line(f"use:    {_USAGE[plugin.kind].format(name=plugin.name)}")
        doc = _docstring(cls)
        if doc:
            out.line()
            out.paragraphs(doc)
        out.line()
        rows = _parameters(cls)
        if not rows:
            out.line("hyperparameters: none")
            continue
        out.table(
            ("hyperparameter", "type", "default", "help"),
            [[(row[0], "bold"), *((cell, "") for cell in row[1:])] for row in rows],
        )
    return 0


# -- check ------------------------------------------------------------------------------------------------
def _check(as_json: bool) -> int:
    clashes = registry.collisions()
    results: list[dict[str, str]] = []
    for plugin in registry.list_plugins():
        status, detail = "ok", ""
        try:
            registry.load(plugin)
        except PluginBroken as err:
            where = (
                f"{registry.noun(plugin.kind)} {plugin.name!r} from {plugin.distribution} {plugin.version} "
            )
            status, detail = "broken", err.message.removeprefix(where)
        if status == "ok" and (plugin.kind, plugin.name) in clashes:
            others = [p.distribution for p in clashes[plugin.kind, plugin.name] if p != plugin]
            status = "clash"
            detail = (
                f"name also offered by {', '.join(others)}; select it by full class path {plugin.class_path}"
            )
        results.append(
            {
                "name": plugin.name,
                "kind": plugin.kind,
                "distribution": plugin.distribution,
                "version": plugin.version,
                "status": status,
                "detail": detail,
            }
        )
    problems = [r for r in results if r["status"] != "ok"]
    if as_json:
        print(json.dumps(results, indent=2))
        return 1 if problems else 0
    styles = {"ok": "green", "broken": "bold red", "clash": "yellow"}
    out = _Out()
    out.table(
        ("name", "kind", "distribution", "status", "detail"),
        [
            [
                (r["name"], "bold"),
                (r["kind"], ""),
                (f"{r['distribution']} {r['version']}", ""),
                (r["status"], styles[r["status"]]),
                (r["detail"], ""),
            ]
            for r in results
        ],
    )
    if problems:
        out.line(f"{len(problems)} of {len(results)} plugins have problems; the others work.", "red")
        return 1
    out.line(f"all {len(results)} plugins load and are the right kind of class.")
    return 0
