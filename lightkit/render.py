"""The one place where an error becomes a few lines on stderr and an exit code.

:func:`print_error` prints a :class:`~lightkit.errors.LightkitError`; :func:`explain` turns any
other exception into one first, so that no command ends in a traceback unless ``--debug`` or
``LIGHTKIT_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from lightkit.errors import ConfigError, LightkitError

__all__ = ["debug_enabled", "explain", "print_error"]

_MAX_LINES = 10
_MAX_LINE_CHARS = 300


def debug_enabled() -> bool:
    """Whether ``--debug`` or ``LIGHTKIT_DEBUG=1`` asked for tracebacks."""
    return os.environ.get("LIGHTKIT_DEBUG", "").lower() not in ("", "0", "false", "no")


def print_error(err: LightkitError, stream: TextIO | None = None) -> int:
    """Print ``err`` as ``error: ...`` and ``hint: ...`` lines; returns its exit code."""
    stream = stream or sys.stderr
    message = [_clip(line) for line in err.message.splitlines()] or [type(err).__name__]
    lines = [f"error: {line}" if i == 0 else f"  {line}" for i, line in enumerate(message)]
    if len(lines) > _MAX_LINES - 2:
        lines = [*lines[: _MAX_LINES - 3], "  ..."]
    if err.hint:
        lines.append(f"hint: {_clip(' '.join(err.hint.split()))}")
    if err.exit_code != 2:
        lines.append("(run with --debug or LIGHTKIT_DEBUG=1 for the traceback)")
    stream.write("\n".join(lines) + "\n")
    stream.flush()
    return err.exit_code


def _clip(line: str) -> str:
    return line if len(line) <= _MAX_LINE_CHARS else line[: _MAX_LINE_CHARS - 3] + "..."


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _flag(argv: Sequence[str], flag: str) -> str | None:
    from lightkit.cli.argv import flag_value  # imported here: lightkit.cli imports this module

    return flag_value(list(argv), flag)


def _with_origin(err: LightkitError, argv: Sequence[str]) -> LightkitError:
    """Add where a key was set to a component's ``ConfigError("model.dropout must be ...")``."""
    match = re.match(r"([a-z_]+\.[\w.]+) ", err.message)
    if not isinstance(err, ConfigError) or not match or "(from " in err.message:
        return err
    from lightkit.cli.config_origin import locate

    where = locate(match.group(1), argv, next((a for a in argv if not a.startswith("-")), None))
    if where:
        lines = err.message.splitlines()
        err.message = "\n".join([f"{lines[0]} (from {where})", *lines[1:]])
    return err


def explain(exc: BaseException, argv: Sequence[str] = ()) -> LightkitError:
    """The :class:`LightkitError` to show for any exception raised while running ``argv``.

    A lightkit error anywhere in the exception's chain wins (jsonargparse wraps errors that
    components raise while being instantiated). A model that does not fit its checkpoint and a
    component that cannot be built from its config get their own messages; anything else is
    reported as its type and first line.
    """
    for link in _chain(exc):
        if isinstance(link, LightkitError):
            return _with_origin(link, argv)
    text = str(exc).strip()
    if "Error(s) in loading state_dict" in text:
        from lightkit.checkpoints import explain_state_dict_mismatch

        return explain_state_dict_mismatch(text, _flag(argv, "--ckpt_path"))
    if "Does not validate against any of the Union subtypes" in text:
        reasons = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
        reasons = [r for r in reasons if "NoneType" not in r] or [text.splitlines()[0]]
        built = re.search(r"class_path='([\w.]+)'", text)
        name = built.group(1).rsplit(".", 1)[-1] if built else "a component"
        return ConfigError(
            f"cannot create {name} from its config: {reasons[0]}",
            "check its values; `lightkit <command> ... --print_config` shows them all.",
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return LightkitError(
        f"{type(exc).__name__}: {first}" if first else f"unexpected {type(exc).__name__}",
        "if this does not explain the problem, rerun with --debug for the traceback.",
    )
