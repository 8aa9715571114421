"""Files replaced whole, and never one that must not be: atomic writes and the output-path guard.

Every file lightkit writes that a user or a later command reads (checkpoints, ``metrics.csv``
rewrites, ``state.json``, predictions, exports) goes through :func:`atomic_writer`: a hidden
temporary file in the same directory, flushed and fsynced, then renamed over the target (rename
is atomic on POSIX file systems). The standard library has no such helper, hence this module.

Every command that writes a file a user names (``predict --run.output``, ``export --output``,
``tune --write_config``, ``sweep --export_best``, ``runs plot --output``) first asks
:func:`check_output`, before anything is written. It refuses:

* an input of the same command (``--data.path``, a ``--config`` file, the checkpoint);
* a checkpoint (``*.ckpt``, anything in a run's ``checkpoints/``) and a run's records
  (``config.yaml``, ``versions.json``, ``state.json``, ``metrics.csv``, ...);
* a path inside a run directory that a symlink leads out of it;
* a directory where a file is wanted.

A symlink at the output path itself is replaced by the new file (the rename does not follow it),
so whatever it pointed to is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lightkit.errors import LightkitError

__all__ = ["RECORD_FILES", "OutputRefused", "atomic_write", "atomic_writer", "check_output", "within"]

#: the records of a run directory (see lightkit.runs.layout), never an output of a command
RECORD_FILES = frozenset(
    {
        "config.yaml", "versions.json", "state.json", "metrics.csv",
        "hparams.yaml", "cv.json", "tracking.json", ".lock",
    }
)
_CHECKPOINTS = "checkpoints"


class OutputRefused(LightkitError):
    """An output path that would overwrite an input, a checkpoint or a run record (exit code 1)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on error it is removed.

    Args:
        path: The file to write.
        mode: ``"wb"`` or ``"w"`` (text; ``open_kwargs`` such as ``newline=""`` apply).
        open_kwargs: Passed to :func:`open` for text mode.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:  # name the file being written, not the temporary one
        raise type(err)(err.errno, err.strerror, str(target)) from None
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically; returns ``path``."""
    with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)
    return Path(path)


def _is_run_dir(path: Path) -> bool:
    return (path / _CHECKPOINTS).is_dir() or any((path / name).is_file() for name in RECORD_FILES - {".lock"})


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def within(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it, as written (absolute, symlinks not followed)."""
    path, folder = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return path == folder or folder in path.parents


def _what_it_is(real: Path) -> str | None:
    """Why ``real`` (a resolved file path) is protected, or ``None``."""
    if real.suffix == ".ckpt":
        return "a checkpoint"
    for parent in real.parents:
        if parent.name == _CHECKPOINTS and _is_run_dir(parent.parent):
            return f"inside the checkpoints of run '{_shown(parent.parent)}'"
    if real.name in RECORD_FILES and _is_run_dir(real.parent):
        return f"a record of run '{_shown(real.parent)}'"
    return None


def check_output(
    path: str | Path,
    flag: str,
    inputs: dict[str, str] | None = None,
    run_dir: str | Path | None = None,
    directory: bool = False,
) -> Path:
    """Refuse an output path that must not be written, before anything is; returns ``path``.

    Args:
        path: The output path (a file; a directory with ``directory=True``).
        flag: How the user gave it (``--run.output``), for the message.
        inputs: The command's input files: path -> where it came from (``--data.path``).
        run_dir: The run directory the command works in; a path inside it may not lead out of it.
        directory: ``path`` is a directory the command fills (``export --output``).

    Raises:
        OutputRefused: The path is an input, a checkpoint, a run record, inside a run's
            checkpoints, a symlink out of the run, or the wrong kind (a directory for a file).
    """
    given = Path(path)
    shown = f"{flag} {str(path)!r}"
    hint = (
        f"choose another path for {flag}; lightkit never writes over a command's inputs, "
        "checkpoints or run records."
    )
    real = given.resolve()
    if run_dir is not None:
        run = Path(run_dir)
        if within(given, run) and not within(real, run.resolve()):  # as written inside, not once resolved
            raise OutputRefused(
                f"{shown} is inside run '{run}' but a symlink leads out of it, to '{_shown(real)}'", hint
            )
    for input_path, source in (inputs or {}).items():
        other = Path(input_path).resolve()
        if real == other or (directory and within(other, real)):
            what = "is" if real == other else "holds"
            raise OutputRefused(f"{shown} {what} an input of this command ({source}: '{input_path}')", hint)
    if directory:
        if real.is_file():
            raise OutputRefused(f"{shown} is a file, and a directory is wanted", hint)
        protected = _what_it_is(real / "x") or (f"run '{_shown(real)}' itself" if _is_run_dir(real) else None)
        if protected:
            raise OutputRefused(f"{shown} is {protected}", hint)
        return given
    if real.is_dir():
        raise OutputRefused(f"{shown} is a directory, and a file is wanted", f"give a file path for {flag}.")
    protected = _what_it_is(real)
    if protected:
        raise OutputRefused(f"{shown} is {protected}", hint)
    return given
