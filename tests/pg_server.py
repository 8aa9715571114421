"""A throw-away PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` on a loopback port, then removed.

The binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``) or
the ``PATH``. ``initdb`` refuses to run as root, so as root every server command runs as the
``postgres`` user that the package creates (``runuser -u postgres --``, else ``su postgres``), in a
directory under ``/tmp`` that the user owns. Authentication is ``trust`` on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: superuser of the throw-away cluster, and the database the tests use
USER, DATABASE = "lightkit", "optuna"


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, newest version first; ``None`` if absent."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True
    )
    found = shutil.which("initdb")
    for initdb in [*candidates, *([found] if found else [])]:
        bin_dir = Path(initdb).parent
        if (bin_dir / "pg_ctl").is_file():
            return bin_dir
    return None


def why_unavailable() -> str | None:
    """Why no throw-away server can start here, or ``None`` when one can."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin "
            "or on PATH; install them with: apt-get install -y --no-install-recommends postgresql"
        )
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no 'postgres' user to run initdb as (initdb refuses root)"
        if shutil.which("runuser") is None and shutil.which("su") is None:
            return "running as root, and neither runuser nor su is there to run initdb as 'postgres'"
    return None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A running throw-away server.

    Attributes:
        port: Its TCP port on 127.0.0.1.
        url: ``postgresql://lightkit@127.0.0.1:<port>/optuna``.
    """

    port: int
    url: str


def _run(argv: list[str], what: str, timeout: float = 120) -> None:
    proc = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


@contextlib.contextmanager
def throwaway_server() -> Iterator[Server]:
    """Start a PostgreSQL cluster in a new temporary directory; stop and delete it afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(why_unavailable() or "no PostgreSQL binaries")
    base = Path(tempfile.mkdtemp(prefix="lightkit-pg-"))
    data, log = base / "data", base / "server.log"
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(base, user="postgres", group="postgres")
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"],
            "initdb",
        )
        port = _free_port()
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        try:
            _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                ],
                "pg_ctl start",
            )
        except RuntimeError as err:
            raise RuntimeError(
                f"{err}\nserver log:\n{log.read_text()[-3000:] if log.is_file() else ''}"
            ) from None
        started = True
        createdb = bin_dir / "createdb"
        _run([str(createdb), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE], "createdb")
        yield Server(port, f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}")
    finally:
        if started:
            with contextlib.suppress(Exception):
                _run(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop"],
                    "stop",
                )
        shutil.rmtree(base, ignore_errors=True)
