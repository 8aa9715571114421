"""The one place where an error becomes a few lines on stderr and an exit code.

:func:`print_error` prints a :class:`~lightkit.errors.LightkitError`; :func:`explain` turns any
other exception into one first, so that no command ends in a traceback unless ``--debug`` or
``LIGHTKIT_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from lightkit.errors import ConfigError, LightkitError

__all__ = ["capture_thread_errors", "debug_enabled", "explain", "print_error", "report_thread_errors"]

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


#: what to do about an OS error, by errno
_OS_HINTS = {
    errno.EACCES: "fix the permissions of that path (or of its directory), or choose another path.",
    errno.EPERM: "the path or its directory may be immutable (lsattr) or read-only; fix that, or "
    "choose another path.",
    errno.EROFS: "that file system is mounted read-only; choose a path on a writable one.",
    errno.ENOSPC: "free some space on that disk, or write elsewhere (--trainer.default_root_dir, "
    "--run.output).",
    errno.EDQUOT: "your disk quota is used up; free some space, or write elsewhere.",
    errno.EISDIR: "a file is wanted there, not a directory.",
    errno.ENOTDIR: "a part of that path is a file, not a directory.",
    errno.ENOENT: "check the path; relative paths are taken from the current directory.",
    errno.ENAMETOOLONG: "choose a shorter name.",
}


def _os_error(err: OSError) -> LightkitError:
    """One line naming the path and what the OS said, and a hint of what to do."""
    name: Any = err.filename
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    reason = (err.strerror or type(err).__name__).lower()
    fallback = "rerun with --debug for the traceback if the path does not say enough."
    hint = _OS_HINTS.get(err.errno or -1, fallback)
    if name is None:
        return LightkitError(f"{reason} ({type(err).__name__})", hint)
    other = f" -> '{err.filename2}'" if err.filename2 else ""
    return LightkitError(f"{reason}: '{name}'{other}", hint)


#: exceptions already explained or printed, so that a thread's is not reported twice
_reported: set[int] = set()
_thread_errors: list[BaseException] = []


def capture_thread_errors() -> Any:
    """Hold back background threads' exceptions (TensorBoard's writer, ...); returns the old hook.

    Python prints a thread's traceback as it dies; here it is kept, and
    :func:`report_thread_errors` prints it as one line unless the command's own error already
    said it (TensorBoard raises its thread's exception again in the main thread).
    """
    previous = threading.excepthook

    def hold(args: Any) -> None:
        if debug_enabled():
            previous(args)
        elif args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
            _thread_errors.append(args.exc_value)

    threading.excepthook = hold
    return previous


def report_thread_errors(previous: Any, stream: TextIO | None = None) -> None:
    """Print each held thread exception not yet reported as one ``warning:`` line; restore the hook."""
    threading.excepthook = previous
    stream = stream or sys.stderr
    while _thread_errors:
        exc = _thread_errors.pop(0)
        if id(exc) not in _reported:
            stream.write(f"warning: a background thread stopped: {explain(exc).message}\n")
    _reported.clear()


def explain(exc: BaseException, argv: Sequence[str] = ()) -> LightkitError:
    """The :class:`LightkitError` to show for any exception raised while running ``argv``.

    A lightkit error anywhere in the exception's chain wins (jsonargparse wraps errors that
    components raise while being instantiated). A model that does not fit its checkpoint and a
    component that cannot be built from its config get their own messages; anything else is
    reported as its type and first line.
    """
    _reported.update(id(link) for link in _chain(exc))
    for link in _chain(exc):
        if isinstance(link, LightkitError):
            return _with_origin(link, argv)
    for link in _chain(exc):  # PermissionError, IsADirectoryError, a full disk: the path, and what to do
        if isinstance(link, OSError) and (link.filename is not None or link.errno == errno.ENOSPC):
            return _os_error(link)
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
