"""Printing for people and for pipes: highlighted YAML and rich tables on a terminal, plain text otherwise."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import Any

import yaml

__all__ = ["highlighted_print_config", "inline", "print_table"]


def inline(value: Any) -> str:
    """A value as one line of YAML."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


@contextlib.contextmanager
def highlighted_print_config(args: list[str]) -> Iterator[None]:
    """On a terminal, show ``--print_config`` output as highlighted YAML; piped, it stays plain."""
    wanted = any(a == "--print_config" or a.startswith("--print_config=") for a in args)
    if not wanted or not sys.stdout.isatty():
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    except SystemExit:
        from rich.console import Console
        from rich.syntax import Syntax

        Console().print(Syntax(buffer.getvalue(), "yaml", theme="ansi_dark", background_color="default"))
        raise
    sys.stdout.write(buffer.getvalue())


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A rich table on a terminal, aligned plain text otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*header)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
