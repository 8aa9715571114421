"""Run ``lightkit`` in-process the way a user would, capturing what it prints.

The conformance checks that train go through the real command line (short names, the data-shape
link, run directories, checkpoints), so a plugin that passes them works under ``lightkit fit``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["CliRun", "quiet_lightning_logs", "run_cli", "tail"]


@dataclass
class CliRun:
    """What one command did.

    Attributes:
        argv: The arguments, without the program name.
        code: The exit code; 1 when an exception escaped.
        out: Captured standard output.
        err: Captured standard error.
        exception: The formatted traceback of an exception that escaped the command, if any.
    """

    argv: list[str]
    code: int
    out: str
    err: str
    exception: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.code == 0 and not self.exception

    def problem(self, max_lines: int = 8) -> list[str]:
        """The lines that say why the command failed: the traceback's end, or the error output."""
        text = self.exception or self.err or self.out
        return tail(text, max_lines)


def tail(text: str, max_lines: int = 8) -> list[str]:
    """The last non-empty lines of ``text``, without lightning's progress noise."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return lines[-max_lines:]


def _format_exception(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    # keep the frames of the code under test, not those of lightkit, Lightning or jsonargparse
    outside = [
        f
        for f in frames
        if not any(part in f.filename for part in ("/lightning/", "/jsonargparse/", "/lightkit/"))
    ]
    shown = (outside or frames)[-3:]
    lines = [f"{f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in shown]
    return "\n".join([*lines, f"{type(err).__name__}: {err}"])


@contextlib.contextmanager
def quiet_lightning_logs() -> Iterator[None]:
    """Lightning's INFO lines ("GPU available: False", ...) are noise in a test report."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def run_cli(argv: list[str], keep: dict[str, Any] | None = None) -> CliRun:
    """Run ``lightkit ARGV`` in this process.

    Args:
        argv: The arguments, e.g. ``["fit", "--model", "MyNet", ...]``.
        keep: When given, the command runs through :class:`~lightkit.cli.lightkit_cli.LightkitCLI`
            directly and ``keep["cli"]`` receives the CLI object (its model, data module and trainer).
    """
    import lightning.pytorch  # noqa: F401 - its log handler must bind to the real stderr, not to ours

    from lightkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    code, exception = 0, ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), quiet_lightning_logs():
        try:
            if keep is None:
                code = main(argv)
            else:
                from lightkit.cli.lightkit_cli import LightkitCLI, command_options

                keep["cli"] = LightkitCLI(args=argv, **command_options())
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except Exception as error:  # the plugin's own code failed: report it, do not crash the kit
            code, exception = 1, _format_exception(error)
    return CliRun(argv=argv, code=code, out=out.getvalue(), err=err.getvalue(), exception=exception)
