"""One command at a time writes into a run directory: an OS file lock that dies with its process.

``fit`` (new, resumed, a cross-validation fold, a sweep trial) and ``predict`` into the run hold
an exclusive lock on ``<run>/.lock``; ``validate``, ``test`` and ``predict`` to a file elsewhere
hold a shared one, so several of them may read a run at once but never while it is trained.

The lock is ``flock(2)`` on an open file, not a PID file: the kernel drops it when the process
ends in any way, ``kill -9`` included, so a stale lock cannot exist. The file is left in place
(removing it would race with the next holder); it holds the last exclusive holder's PID and
command, for messages only. Who holds a lock is read from ``/proc/locks`` where there is one.

Only the first process of a distributed job locks: the ranks Lightning starts share the run
directory of rank 0, which holds the lock for them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from pathlib import Path

from lightkit.errors import LightkitError

__all__ = ["LOCK_FILE", "RunInUse", "RunLock", "lock_run", "lock_holder"]

#: the lock file inside a run directory
LOCK_FILE = ".lock"

#: what flock(2) answers on a file system that has no locks
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}
#: environment variables that mark a process as a secondary rank of a distributed job
_RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID")


class RunInUse(LightkitError):
    """Another process holds the run directory's lock (exit code 1)."""


def _secondary_rank() -> bool:
    return any(os.environ.get(name, "0") not in ("", "0") for name in _RANK_VARIABLES)


def _holders_from_proc(fd: int, exclusive_only: bool = False) -> list[int]:
    """PIDs holding an ``flock`` on the file open as ``fd``, from ``/proc/locks`` (Linux)."""
    info = os.fstat(fd)
    wanted = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    pids: list[int] = []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return pids
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[1] == "->" or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
            pid = int(parts[4])
        except ValueError:
            continue
        if exclusive_only and parts[3] != "WRITE":
            continue
        if key == wanted and pid not in pids:
            pids.append(pid)
    return pids


def _command_of(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if len(words) > 2 and words[1:3] == ["-m", "lightkit"]:
        words = ["lightkit", *words[3:]]
    elif words:
        words[0] = Path(words[0]).name
    return " ".join(words) or None


def _recorded(handle_fd: int) -> tuple[int | None, str | None]:
    """The PID and command the last exclusive holder wrote into the lock file."""
    try:
        text = os.pread(handle_fd, 4096, 0).decode(errors="replace")
    except OSError:
        return None, None
    first, _, command = text.partition("\n")
    try:
        return int(first.strip()), command.strip() or None
    except ValueError:
        return None, None


class RunLock:
    """The lock of one run directory, held from :meth:`acquire` until :meth:`release` or exit.

    Args:
        run_dir: The run directory (created if missing).
        command: The command taking it, written into the lock file for other processes' messages.
        shared: A shared (reading) lock instead of an exclusive (writing) one.
    """

    def __init__(self, run_dir: str | Path, command: str, shared: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.command = command
        self.shared = shared
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        """The lock file."""
        return self.run_dir / LOCK_FILE

    def acquire(self) -> RunLock:
        """Take the lock at once, or raise :class:`RunInUse` naming the run and the holder's PID.

        Raises:
            RunInUse: Another process holds it.
            LightkitError: The run directory cannot be written (read-only, immutable, not a directory).
        """
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise LightkitError(
                f"cannot use run directory '{self.run_dir}': {(err.strerror or str(err)).lower()} "
                f"({err.filename or self.path})",
                "the run directory must be writable: fix its permissions (or its immutable flag), "
                "or choose another with --run.name / --trainer.default_root_dir.",
            ) from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in _NO_LOCKS:  # a file system without flock: run unlocked, and say so
                os.close(fd)
                print(
                    f"warning: run directory '{self.run_dir}' cannot be locked on this file system "
                    f"({(err.strerror or str(err)).lower()}); nothing stops a second command writing into it",
                    file=sys.stderr,
                )
                return self
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            message = self._busy_message(fd)
            os.close(fd)
            raise RunInUse(*message) from None
        self._fd = fd
        if not self.shared:
            try:
                self._writable()
                record = f"{os.getpid()}\n{self.command}\n".encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, record, 0)
            except BaseException:
                self.release()
                raise
        return self

    def _writable(self) -> None:
        """A writer can create files in the run directory (an immutable one takes the lock, no file)."""
        import tempfile

        try:
            probe, name = tempfile.mkstemp(dir=self.run_dir, prefix=".lightkit-probe-")
            os.close(probe)
            os.unlink(name)
        except OSError as err:
            raise LightkitError(
                f"cannot write in run directory '{self.run_dir}': {(err.strerror or str(err)).lower()}",
                "the run directory must be writable: fix its permissions (or its immutable flag, "
                "lsattr), or choose another with --run.name / --trainer.default_root_dir.",
            ) from None

    def _busy_message(self, fd: int) -> tuple[str, str]:
        holders = [pid for pid in _holders_from_proc(fd) if pid != os.getpid()]
        recorded_pid, recorded_command = _recorded(fd)
        pid = holders[0] if holders else recorded_pid
        command = recorded_command if pid is not None and pid == recorded_pid else None
        command = command or (_command_of(pid) if pid is not None else None)
        who = f"process {pid}" if pid is not None else "another process"
        doing = f" ({command})" if command else ""
        stop = f"stop it (kill {pid})" if pid is not None else "stop it"
        return (
            f"run '{self.run_dir}' is in use by {who}{doing}",
            f"wait for it to finish, or {stop}; the lock ends with that process, so there is "
            "nothing to clean up afterwards.",
        )

    def release(self) -> None:
        """Let go of the lock (closing the file drops it); the lock file stays."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run(run_dir: str | Path, command: str, shared: bool = False) -> RunLock | None:
    """Take ``run_dir``'s lock for ``command``; ``None`` in a secondary rank of a distributed job.

    Raises:
        RunInUse: Another process holds it.
    """
    if _secondary_rank():
        return None
    return RunLock(run_dir, command, shared=shared).acquire()


def lock_holder(run_dir: str | Path) -> int | None:
    """The PID holding ``run_dir``'s exclusive lock now (a run being trained), or ``None``.

    Used by ``lightkit runs`` to tell a running run from one whose process died.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if Path("/proc/locks").is_file():  # read without taking a lock, so no starting fit is refused
            holders = _holders_from_proc(fd, exclusive_only=True)
            return holders[0] if holders else None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _recorded(fd)[0] or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
