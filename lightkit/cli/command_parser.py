"""The argparse parser of lightkit's own commands (``plugins``, ``runs``, ``serve``, ...).

Those commands are plain argparse, not LightningCLI: they take a few flags and must start without
importing torch. Their usage errors go through lightkit's renderer like every other error.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from lightkit.errors import UsageError

__all__ = ["CommandParser"]


class CommandParser(argparse.ArgumentParser):
    """argparse that raises :class:`~lightkit.errors.UsageError` instead of printing usage and exiting.

    The message names the command (``... (lightkit runs show)``) and points at its ``--help``.
    Pass it as ``parser_class`` to ``add_subparsers`` so that subcommands do the same.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} ({self.prog})", f"see `{self.prog} --help`.")
