"""Help text from a cache: ``fit --help``, ``--model.help X`` and ``plugins show X`` without torch.

Printing help costs the import of torch and Lightning (about 6 s) for text that changes only when
something is installed, removed or edited. The first call of each request runs the real parser
and records what it printed; later calls print the record when nothing changed since.

An entry is keyed by

* the *content*: every installed distribution (name, version and entry points; the first on
  ``sys.path`` of each name, as ``importlib.metadata`` takes it), lightkit's version, the size
  and modification time of every lightkit source file and of each plugin's module (an editable
  install changes without a new version), the Python version, and the ``LIGHTKIT_*`` and
  ``JSONARGPARSE_*`` variables;
* the *request*: the arguments exactly as typed;
* the *presentation*: the program name (the usage line shows it), whether stdout is a terminal,
  its size and encoding, and the variables that change colours (``TERM``, ``NO_COLOR``, ...),
  since help is wrapped to the terminal and ``plugins show`` uses rich only on a terminal.

Installing or removing a plugin changes the content key, so the next call rebuilds. Only
successful requests are recorded; errors always take the slow path. Shell completion reads the
flags of ``--model.``, ``--data.`` and ``--trainer.`` from the same entries
(:func:`cached_flags`).

Where: ``$LIGHTKIT_CACHE_DIR/help``, else ``$XDG_CACHE_HOME/lightkit/help``, else
``~/.cache/lightkit/help``. ``LIGHTKIT_HELP_CACHE=0`` turns the cache off. This module imports
only the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_DIR_ENV",
    "DISABLE_ENV",
    "answer",
    "cache_dir",
    "cacheable",
    "cached_flags",
    "content_key",
    "enabled",
    "request_of",
    "warm_in_background",
]

#: overrides where the cache lives
CACHE_DIR_ENV = "LIGHTKIT_CACHE_DIR"
#: ``0``, ``false``, ``no`` or ``off`` turns the help cache off
DISABLE_ENV = "LIGHTKIT_HELP_CACHE"
#: ``0`` (etc.) stops completion from building a missing entry in the background
WARM_ENV = "LIGHTKIT_COMPLETION_WARM"

#: bump when the layout of an entry changes
_FORMAT = 1
#: content directories kept; older ones (from before an install) are removed
_KEEP = 6
_TRAIN = ("fit", "validate", "test", "predict")
#: ``--<key>.help CLASS``: one component's arguments
_CLASS_HELP = (
    "--model.help",
    "--data.help",
    "--trainer.callbacks.help",
    "--optimizer.help",
    "--lr_scheduler.help",
)
#: variables that change how text is rendered (colours, width), not what it says
_PRESENTATION_ENV = (
    "COLUMNS",
    "LINES",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
)
_OFF = ("0", "false", "no", "off")

#: set while the slow path runs for a miss, so that it does not consult the cache again
_building = False


def enabled() -> bool:
    """Whether the help cache is on (``LIGHTKIT_HELP_CACHE`` is not ``0``)."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in _OFF


def cache_dir() -> Path:
    """The directory of help entries."""
    root = os.environ.get(CACHE_DIR_ENV)
    if root:
        return Path(root).expanduser() / "help"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lightkit" / "help"


# -- which requests --------------------------------------------------------------------------------
def request_of(args: Sequence[str]) -> tuple[str, ...] | None:
    """``args`` when they are a help request the cache answers, else ``None``.

    Answered: ``fit|validate|test|predict --help`` (or ``-h``), ``<command> --model.help X`` (and
    ``--data.help``, ``--trainer.callbacks.help``, ``--optimizer.help``, ``--lr_scheduler.help``,
    also as ``--model.help=X``), and ``plugins show X`` with an optional ``--kind K``. Anything
    more (a ``--config``, another flag) takes the slow path.
    """
    args = list(args)
    if not args:
        return None
    if args[0] in _TRAIN:
        rest = args[1:]
        if rest in (["--help"], ["-h"]):
            return tuple(args)
        if len(rest) == 1 and "=" in rest[0]:
            flag, _, value = rest[0].partition("=")
        elif len(rest) == 2:
            flag, value = rest
        else:
            return None
        if flag in _CLASS_HELP and value and not value.startswith("-"):
            return tuple(args)
        return None
    if args[:2] == ["plugins", "show"] and _is_show(args[2:]):
        return tuple(args)
    return None


def _is_show(rest: list[str]) -> bool:
    """``NAME``, ``NAME --kind K``, ``--kind K NAME`` or ``--kind=K`` with a name."""
    plain = [not a.startswith("-") for a in rest]
    if len(rest) == 1:
        return plain[0]
    if len(rest) == 2:
        kinds = [a.startswith("--kind=") for a in rest]
        return sorted(kinds) == [False, True] and plain[kinds.index(False)]
    if len(rest) == 3:
        at = rest.index("--kind") if "--kind" in rest[:2] else -1
        return at >= 0 and all(p for i, p in enumerate(plain) if i != at)
    return False


def cacheable(args: Sequence[str]) -> bool:
    """Whether :func:`answer` should handle ``args`` (the cache is on and this is a help request)."""
    return not _building and enabled() and request_of(args) is not None


# -- keys --------------------------------------------------------------------------------------------
def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions(path: list[str] | None = None) -> tuple[list[list[str]], list[str]]:
    """Every distribution on ``path`` as ``[name, version, entry_points.txt]``, and plugin modules.

    ``path`` is ``sys.path`` by default; of several distributions of one name the first counts,
    as in ``importlib.metadata.entry_points``.
    """
    from importlib.metadata import distributions

    from lightkit.registry import name_and_version

    seen: set[str] = set()
    described: list[list[str]] = []
    modules: list[str] = []
    for dist in distributions(path=list(sys.path if path is None else path)):
        name, version = name_and_version(dist)
        key = _normalise(name)
        if key in seen:
            continue
        seen.add(key)
        entry_points = dist.read_text("entry_points.txt") or ""
        described.append([name, version, entry_points])
        if "[lightkit." in entry_points:
            modules += _lightkit_modules(entry_points)
    return sorted(described, key=lambda d: _normalise(d[0])), modules


def _lightkit_modules(entry_points: str) -> list[str]:
    modules, in_group = [], False
    for line in entry_points.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_group = line.startswith("[lightkit.")
        elif in_group and "=" in line:
            modules.append(line.split("=", 1)[1].split(":", 1)[0].strip())
    return modules


def _stat(path: str | Path) -> list[Any]:
    try:
        info = os.stat(path)
    except OSError:
        return [str(path), None]
    return [str(path), info.st_mtime_ns, info.st_size]


def _module_file(module: str) -> str | None:
    """Where ``module``'s source is, found without executing it or its packages."""
    from importlib.machinery import PathFinder
    from importlib.util import find_spec

    top, *parts = module.split(".")
    try:
        spec = find_spec(top)  # a top-level name is looked up, not imported
        for i, _ in enumerate(parts):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = PathFinder.find_spec(
                ".".join([top, *parts[: i + 1]]), list(spec.submodule_search_locations)
            )
    except (ImportError, ValueError, AttributeError):
        return None
    return spec.origin if spec is not None else None


def _lightkit_sources() -> list[list[Any]]:
    """Size and modification time of every lightkit source file.

    An editable install changes without a new version.
    """
    package = Path(__file__).resolve().parent.parent
    entries = []
    for directory, subdirs, files in os.walk(package):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".tmpl")):
                path = os.path.join(directory, name)
                entries.append([os.path.relpath(path, package), *_stat(path)[1:]])
    return entries


def content_key(path: list[str] | None = None) -> str:
    """The hash of everything the text of a help request depends on, presentation aside.

    Args:
        path: Where distributions are looked for; by default ``sys.path``.
    """
    from importlib.metadata import PackageNotFoundError, version

    distributions, modules = _distributions(path)
    try:
        lightkit_version = version("lightkit")
    except PackageNotFoundError:
        lightkit_version = "unknown"
    plugin_sources = [
        [module, *_stat(origin)[1:]] if (origin := _module_file(module)) else [module, None]
        for module in sorted(set(modules))
        if module.split(".")[0] != "lightkit"
    ]
    settings = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("LIGHTKIT_", "JSONARGPARSE_")) and k not in (CACHE_DIR_ENV, DISABLE_ENV, WARM_ENV)
    }
    return _digest(
        {
            "format": _FORMAT,
            "python": sys.version,
            "lightkit": lightkit_version,
            "lightkit_sources": _lightkit_sources(),
            "distributions": distributions,
            "plugin_sources": plugin_sources,
            "settings": settings,
        }
    )


def _presentation_key() -> str:
    stream = sys.stdout
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):
        tty = False
    size = shutil.get_terminal_size()
    return _digest(
        {
            "program": os.path.basename(sys.argv[0]) if sys.argv else "",
            "tty": tty,
            "size": [size.columns, size.lines],
            "encoding": getattr(stream, "encoding", None),
            "env": {k: os.environ.get(k) for k in _PRESENTATION_ENV},
        }
    )


# -- entries -----------------------------------------------------------------------------------------
def _paths(content: str, request: tuple[str, ...], presentation: str | None = None) -> tuple[Path, Path]:
    folder = cache_dir() / content
    name = _digest(list(request))
    text = folder / f"{name}-{presentation}.txt" if presentation else folder / f"{name}.txt"
    return text, folder / f"{name}.json"


def _write(path: Path, text: str) -> None:
    """Write atomically: a concurrent reader sees the old entry or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _prune(keep: Path) -> None:
    """Remove content directories of earlier installs, keeping the newest few."""
    try:
        folders = [p for p in cache_dir().iterdir() if p.is_dir() and p != keep]
        folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in folders[_KEEP - 1 :]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass


#: an option heading a line of an argparse help listing: ``  --model.lr LR``, ``  -c CONFIG, --config CONFIG``
_OPTION_LINE = re.compile(r"^ {1,6}-")
_FLAG = re.compile(r"(?<![\w-])(--[A-Za-z_][\w.-]*\+?)")


def flags_in(text: str) -> list[str]:
    """The long options listed in help text, in order, each once."""
    found: dict[str, None] = {}
    for line in text.splitlines():
        if _OPTION_LINE.match(line):
            invocation = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            for flag in _FLAG.findall(invocation):
                found.setdefault(flag, None)
    return list(found)


def _store(content: str, request: tuple[str, ...], presentation: str, text: str) -> None:
    text_path, flags_path = _paths(content, request, presentation)
    fresh = not text_path.parent.exists()
    _write(text_path, text)
    _write(flags_path, json.dumps({"request": list(request), "flags": flags_in(text)}))
    if fresh:
        _prune(text_path.parent)


class _Recorder:
    """Stands for ``sys.stdout`` while the slow path runs, keeping a copy of what is written.

    Everything else (``isatty``, ``fileno``, ``encoding``) is the real stream's, so the text is
    what the terminal would get.
    """

    def __init__(self, target: Any) -> None:
        self._target = target
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self._target.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _exit_code(exit_: SystemExit) -> int:
    code = exit_.code
    return code if isinstance(code, int) else (0 if code is None else 1)


def answer(args: Sequence[str], slow: Callable[[list[str]], int]) -> int:
    """Print the help ``args`` ask for: from the cache, or by ``slow(args)`` (recorded if it succeeds).

    Args:
        args: A request :func:`cacheable` accepts.
        slow: The real command (it may raise ``SystemExit``, as argparse help does).
    """
    global _building
    request = request_of(args)
    search_path = list(sys.path)  # the command may add to sys.path; the key is of what was found before
    try:
        content, presentation = content_key(search_path), _presentation_key()
        text_path = _paths(content, request, presentation)[0] if request else None
        cached = text_path.read_text(encoding="utf-8") if text_path and text_path.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        content = presentation = cached = None
    if cached is not None:
        sys.stdout.write(cached)
        sys.stdout.flush()
        return 0
    recorder = _Recorder(sys.stdout)
    sys.stdout, _building = recorder, True
    code: int | None = None
    try:
        code = slow(list(args))
        return code
    except SystemExit as exit_:
        code = _exit_code(exit_)
        raise
    finally:
        sys.stdout, _building = recorder._target, False
        if code == 0 and content and presentation and request and recorder.parts:
            try:
                # something installed or edited while the parser ran: the text may be of either state
                if content_key(search_path) == content:
                    _store(content, request, presentation, "".join(recorder.parts))
            except OSError:  # a read-only or full disk: help still printed, just not cached
                pass


# -- completion --------------------------------------------------------------------------------------
def cached_flags(request: Sequence[str], content: str | None = None) -> list[str] | None:
    """The options listed in the cached text of ``request``, or ``None`` when it is not cached.

    Args:
        request: A help request, e.g. ``("fit", "--model.help", "TabularMLP")``.
        content: The content key, when the caller has computed it already.
    """
    if not enabled():
        return None
    try:
        flags_path = _paths(content or content_key(), tuple(request))[1]
        return list(json.loads(flags_path.read_text(encoding="utf-8"))["flags"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def warm_in_background(request: Sequence[str], content: str | None = None) -> bool:
    """Start ``lightkit REQUEST`` detached, output discarded, so that the entry exists next time.

    Completion calls it for a missing entry; at most one such process runs per request (a lock
    file older than five minutes is taken to be stale). ``LIGHTKIT_COMPLETION_WARM=0`` turns it
    off. Returns whether a process was started.
    """
    if not enabled() or os.environ.get(WARM_ENV, "").strip().lower() in _OFF:
        return False
    import subprocess

    request = tuple(request)
    try:
        lock = _paths(content or content_key(), request)[1].with_suffix(".warming")
        lock.parent.mkdir(parents=True, exist_ok=True)
        if lock.exists() and time.time() - lock.stat().st_mtime > 300:
            lock.unlink(missing_ok=True)
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        return False
    # the child sees what this process sees: the same first entry of sys.path (distributions) and
    # the same program name (the usage line of help says it)
    script = (
        "import os, sys\n"
        "lock, sys.path[0] = sys.argv[1], sys.argv[2]\n"
        "sys.argv = sys.argv[3:]\n"
        "from lightkit.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    os.unlink(lock) if os.path.exists(lock) else None\n"
    )
    program = sys.argv[0] if sys.argv and sys.argv[0] else "lightkit"
    try:
        subprocess.Popen(
            [sys.executable, "-c", script, str(lock), sys.path[0] if sys.path else "", program, *request],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        lock.unlink(missing_ok=True)
        return False
    return True
