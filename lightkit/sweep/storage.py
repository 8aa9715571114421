"""Where a study lives, and the lock that makes "count the trials, create one" a single step.

Three kinds of storage, chosen by the ``--storage`` URL:

========================  ==================================  ===========================================
URL                       storage                             lock shared by the workers
========================  ==================================  ===========================================
``sqlite:///path.db``     Optuna's ``RDBStorage`` (default)   a file lock next to the database (one host)
``postgresql://...``      ``RDBStorage`` on a server          a PostgreSQL advisory lock (every host)
``journal:///path.log``   ``JournalStorage``, file backend    a symlink lock next to the log (NFS-safe)
other SQLAlchemy URLs     ``RDBStorage`` (MySQL, ...)         a file lock in the sweep directory (one host)
========================  ==================================  ===========================================

Running trials beat a heartbeat every ``Heartbeat.interval`` seconds. ``RDBStorage`` keeps beats
in its heartbeat table, timed by the database server's clock. ``JournalStorage`` has no heartbeat
in Optuna, so :class:`HeartbeatJournalStorage` adds one: a beat is the trial system attribute
``lightkit:heartbeat``, and a trial is stale once *this* process has watched its beat stay the same
for the grace period, by its own monotonic clock, so the hosts' clocks need not agree. Both
implement Optuna's ``BaseHeartbeat``, so ``optuna.storages.fail_stale_trials`` and
``Study.optimize`` use them as Optuna's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from lightkit.errors import UsageError

__all__ = [
    "HEARTBEAT_ATTR",
    "Heartbeat",
    "HeartbeatJournalStorage",
    "Store",
    "file_lock",
    "journal_path",
    "open_store",
    "shown_url",
    "sqlalchemy_url",
    "storage_kind",
]

#: trial system attribute holding the last beat (seconds since the epoch) in a journal study
HEARTBEAT_ATTR = "lightkit:heartbeat"
_JOURNAL_PREFIX = "journal://"
StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


@dataclass(frozen=True)
class Heartbeat:
    """How often a running trial beats, and after how long without a beat it counts as dead.

    Args:
        interval: Seconds between two beats of a running trial.
        grace: Seconds without a beat after which another worker fails the trial and queues it again.
    """

    interval: int = 20
    grace: int = 90

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise UsageError(
                f"--heartbeat_interval must be at least 1 second, got {self.interval}",
                "the default is 20 s.",
            )
        if self.grace <= self.interval:
            raise UsageError(
                f"--grace_period {self.grace} must be longer than --heartbeat_interval {self.interval}",
                "a trial is failed after grace_period seconds without a beat; defaults: 90 and 20 s.",
            )


def shown_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for printing."""
    if url.startswith(_JOURNAL_PREFIX):
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: print it as given
        return url


def storage_kind(url: str) -> str:
    """``sqlite``, ``postgresql``, ``journal``, or ``rdb`` for the other SQLAlchemy databases."""
    if url.startswith(_JOURNAL_PREFIX):
        return "journal"
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return scheme if scheme in ("sqlite", "postgresql") else "rdb"


def journal_path(url: str) -> Path:
    """The log file of a ``journal:///abs/path.log`` (or ``journal://relative/path.log``) URL.

    Raises:
        UsageError: The URL names no file.
    """
    path = url[len(_JOURNAL_PREFIX) :]
    if not path or path.endswith("/"):
        raise UsageError(
            f"--storage {url!r} names no journal file",
            "write journal:///absolute/path/study.log (three slashes) or journal://relative/study.log.",
        )
    return Path(path)


def sqlalchemy_url(url: str) -> str:
    """``url`` as SQLAlchemy should open it: ``postgresql://`` uses psycopg 3 when psycopg2 is absent.

    SQLAlchemy's default PostgreSQL driver is psycopg2; ``lightkit[sweep]`` installs psycopg 3
    (``psycopg[binary]``), which SQLAlchemy names ``postgresql+psycopg``.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's ``JournalStorage`` with a heartbeat, so that dead workers' trials are found.

    A beat appends one line to the journal (the trial system attribute :data:`HEARTBEAT_ATTR`,
    the beating worker's wall-clock time). A RUNNING trial is stale when its beat has not changed
    for ``grace_period`` seconds while this process watched it, measured on this process's
    monotonic clock: no two hosts' clocks are compared. A worker that starts therefore waits one
    grace period before it fails a trial that stopped beating before it started. A trial that
    never beat is left alone, as ``RDBStorage`` does.

    Args:
        backend: The journal backend (a ``JournalFileBackend``).
        heartbeat_interval: Seconds between beats.
        grace_period: Seconds without a new beat after which a running trial is stale.
        heartbeat_stale_trial_callback: Called with each trial failed for being stale.
    """

    def __init__(
        self,
        backend: Any,
        heartbeat_interval: int,
        grace_period: int,
        heartbeat_stale_trial_callback: StaleCallback | None = None,
    ) -> None:
        super().__init__(backend)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback
        self._seen: dict[int, tuple[Any, float]] = {}  # trial id -> (last beat seen, when it changed)

    def record_heartbeat(self, trial_id: int) -> None:
        """Record that the trial is alive now."""
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.monotonic()
        stale = []
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        for trial in running:
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            if beat is None:
                continue
            seen = self._seen.get(trial._trial_id)
            if seen is None or seen[0] != beat:
                self._seen[trial._trial_id] = (beat, now)
            elif now - seen[1] > self.grace_period:
                stale.append(trial._trial_id)
        alive = {t._trial_id for t in running}
        for trial_id in [t for t in self._seen if t not in alive]:
            del self._seen[trial_id]
        return stale

    def get_heartbeat_interval(self) -> int | None:
        """Seconds between beats."""
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        """The callback run for each trial failed for being stale."""
        return self.heartbeat_stale_trial_callback


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if missing); workers on one host share it."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; rely on the count alone
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _symlink_lock(path: Path) -> Iterator[None]:
    """Optuna's NFS-safe lock (a symlink created atomically); one held past 30 s is broken by others."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock``, the same on every host."""
    return int.from_bytes(hashlib.sha256(f"lightkit-sweep:{name}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def _advisory_lock(engine: Any, name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock for ``name``; the server frees it if this process dies."""
    from sqlalchemy import text

    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(name)})
        try:
            yield
        finally:
            connection.rollback()  # ends the transaction, which releases the lock


@dataclass
class Store:
    """An opened study storage and the lock its workers share.

    Attributes:
        url: The ``--storage`` URL as given (or the default SQLite file).
        kind: ``sqlite``, ``postgresql``, ``journal`` or ``rdb``.
        storage: What ``optuna.create_study(storage=...)`` takes.
        heartbeat: The beat interval and grace period.
        sweep_dir: The sweep directory, where other databases keep their local lock.
    """

    url: str
    kind: str
    storage: BaseStorage
    heartbeat: Heartbeat
    sweep_dir: Path
    _engine: Any = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        """The URL without its password."""
        return shown_url(self.url)

    def lock(self, study_name: str) -> contextlib.AbstractContextManager[None]:
        """The lock held while a worker counts the study's trials and creates the next one.

        SQLite and other databases lock a file (workers on one host); PostgreSQL an advisory
        lock (workers anywhere); a journal a symlink next to its log (workers sharing the file
        system).
        """
        if self.kind == "postgresql" and self._engine is not None:
            return _advisory_lock(self._engine, f"study:{study_name}")
        if self.kind == "journal":
            return _symlink_lock(Path(str(journal_path(self.url)) + ".ask"))
        return file_lock(lock_file(self.url, self.sweep_dir))


def lock_file(url: str, sweep_dir: Path) -> Path:
    """The file that local workers lock: next to a SQLite database, else in the sweep directory."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        database = Path(url[len("sqlite:///") :].split("?", 1)[0])
        return database.with_name(database.name + ".lock")
    return sweep_dir / ".ask.lock"


def open_store(url: str, sweep_dir: Path, heartbeat: Heartbeat, on_stale: StaleCallback | None) -> Store:
    """Open the storage at ``url``.

    Args:
        url: ``sqlite:///...``, ``postgresql://...``, ``journal:///...`` or another SQLAlchemy URL.
        sweep_dir: The sweep directory (for the local lock of SQLite and other databases).
        heartbeat: Beat interval and grace period of running trials.
        on_stale: Called by Optuna for each trial it fails for a missing heartbeat.

    Raises:
        UsageError: The driver is missing, the server cannot be reached, the file cannot be written.
    """
    kind = storage_kind(url)
    if kind == "journal":
        return Store(url, kind, _open_journal(url, heartbeat, on_stale), heartbeat, sweep_dir)
    engine_url = sqlalchemy_url(url)
    if kind == "postgresql":
        engine = _engine(url, engine_url)
        with _guard(url), _advisory_lock(engine, "schema"):  # workers creating the tables at once collide
            storage = _open_rdb(url, engine_url, heartbeat, on_stale)
        return Store(url, kind, storage, heartbeat, sweep_dir, _engine=engine)
    attempts = 3
    for attempt in range(attempts):
        with file_lock(lock_file(url, sweep_dir)):  # two workers creating one SQLite schema collide
            try:
                return Store(url, kind, _open_rdb(url, engine_url, heartbeat, on_stale), heartbeat, sweep_dir)
            except UsageError:
                if attempt == attempts - 1:
                    raise
        time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def _open_journal(url: str, heartbeat: Heartbeat, on_stale: StaleCallback | None) -> JournalStorage:
    path = journal_path(url)
    if path.is_dir():
        raise UsageError(
            f"--storage {url!r}: {path} is a directory",
            "name a file, e.g. journal:///shared/sweeps/study.log.",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path))
        return HeartbeatJournalStorage(backend, heartbeat.interval, heartbeat.grace, on_stale)
    except OSError as err:
        raise UsageError(
            f"cannot open the journal {str(path)!r} (from --storage): {err.strerror or err}",
            "the directory must exist or be creatable, and be writable by every worker.",
        ) from None
    except ValueError as err:  # a line that is not JSON: not a journal
        raise UsageError(
            f"{str(path)!r} (from --storage) is not an Optuna journal: {err}",
            "point journal:// at a new file or at one written by Optuna's JournalFileBackend.",
        ) from None


def _missing_driver(url: str, err: ImportError) -> UsageError:
    return UsageError(
        f"storage {shown_url(url)!r} needs a database driver that is missing ({err.name or err})",
        "PostgreSQL: pip install 'lightkit[sweep]' (psycopg); MySQL: pip install pymysql "
        "(and use mysql+pymysql://).",
    )


def _cannot_open(url: str, err: Exception) -> UsageError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return UsageError(
        f"cannot open the study storage {shown_url(url)!r}: {first}",
        "check the URL (sqlite:///path.db, postgresql://user:pass@host:5432/db, journal:///path/study.log, "
        "mysql+pymysql://...) and that the database server is reachable.",
    )


@contextlib.contextmanager
def _guard(url: str) -> Iterator[None]:
    """Turn driver and connection errors into a :class:`UsageError` naming the (password-free) URL."""
    try:
        yield
    except UsageError:
        raise
    except ImportError as err:
        raise _missing_driver(url, err) from None
    except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many kinds; all mean "cannot open"
        raise _cannot_open(url, err) from None


def _engine(url: str, engine_url: str) -> Any:
    """A small engine of our own for the advisory locks (Optuna's sessions stay untouched)."""
    with _guard(url):
        import sqlalchemy

        return sqlalchemy.create_engine(engine_url, pool_pre_ping=True, pool_size=1, max_overflow=1)


def _open_rdb(url: str, engine_url: str, heartbeat: Heartbeat, on_stale: StaleCallback | None) -> RDBStorage:
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # several local workers take turns writing the file; wait instead of failing
        engine_kwargs["connect_args"] = {"timeout": 120}
    else:
        engine_kwargs["pool_pre_ping"] = True
    with warnings.catch_warnings(), _guard(url):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return RDBStorage(
            engine_url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat.interval,
            grace_period=heartbeat.grace,
            heartbeat_stale_trial_callback=on_stale,
        )
