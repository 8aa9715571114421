"""Parent runs: the folds of a cross-validation and the trials of a sweep are child runs of one run.

The code that starts the runs wraps them in :func:`child_runs`; every tracked fit started inside
the block becomes a child of one parent run, created when the first child starts (so nothing is
created when tracking is off). The parent's ids are kept in ``tracking.json`` of the parent's
directory (the cross-validation directory, the sweep directory), so a sweep run again continues
the same parent. This module imports only the standard library; the tracker is imported by the
child's logger, which asks the parent for its run id.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ChildRuns", "child_runs", "current_parent"]


@dataclass
class ChildRuns:
    """The parent of the runs started inside a :func:`child_runs` block.

    Args:
        name: The parent run's name; by default the name of its directory.
        record_dir: Where the parent's ``tracking.json`` goes; by default the directory that
            holds the first child's run directory.
        store_root: Where the default store (``mlflow.db``) of the children goes; by default the
            directory that holds ``record_dir``, i.e. the runs root of the parent.
        tags: Extra tags of the parent run.
    """

    name: str | None = None
    record_dir: Path | None = None
    store_root: Path | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: tracking URI -> (client, run id) of the parent run started there
    _runs: dict[str, tuple[Any, str]] = field(default_factory=dict)

    def bind(self, run_dir: Path) -> None:
        """Fill in the defaults from the first child's run directory."""
        if self.record_dir is None:
            self.record_dir = Path(run_dir).parent
        if self.name is None:
            self.name = self.record_dir.name
        if self.store_root is None:
            self.store_root = self.record_dir.parent

    def mlflow_run_id(self, client: Any, experiment_id: str, uri: str) -> str:
        """The parent's MLflow run id in ``uri``: continued from ``tracking.json``, else created."""
        if uri not in self._runs:
            from lightkit.tracking.mlflow_logger import start_parent_run

            assert self.record_dir is not None and self.name is not None  # bound by the first child
            self._runs[uri] = (client, start_parent_run(client, experiment_id, uri, self))
        return self._runs[uri][1]

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Log summary metrics (the mean over folds, ...) on the parent runs, where one was started."""
        if not self._runs:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
        for client, run_id in self._runs.values():
            for start in range(0, len(values), 1000):
                client.log_batch(run_id, metrics=values[start : start + 1000])

    def _finish(self, status: str) -> None:
        for client, run_id in self._runs.values():
            with contextlib.suppress(Exception):  # the children's results are in; a status is cosmetic
                client.set_terminated(run_id, status)


_CURRENT: ContextVar[ChildRuns | None] = ContextVar("lightkit_tracking_parent", default=None)


def current_parent() -> ChildRuns | None:
    """The :class:`ChildRuns` of the innermost :func:`child_runs` block, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def child_runs(
    name: str | None = None,
    record_dir: Path | None = None,
    store_root: Path | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[ChildRuns]:
    """Make every tracked fit started in the block a child run of one parent run.

    The parent ends ``FINISHED`` when the block does, ``KILLED`` on Ctrl-C and ``FAILED`` on an
    error. Arguments: see :class:`ChildRuns`.
    """
    parent = ChildRuns(name, record_dir, store_root, dict(tags or {}))
    token = _CURRENT.set(parent)
    status = "FINISHED"
    try:
        yield parent
    except BaseException as err:
        status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
        raise
    finally:
        _CURRENT.reset(token)
        parent._finish(status)
