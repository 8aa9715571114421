"""``Stopwatch``: a Lightning callback that times the phases of a run and reports them on stderr.

The benchmark adds it to ``lightkit fit`` and ``lightkit predict`` with
``--trainer.callbacks+=benchmarks.stopwatch.Stopwatch`` and to the plain-Lightning reference, so
both are timed at the same hooks. The hand-written loop reports the same keys itself.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl

from benchmarks.timing import report

__all__ = ["Stopwatch"]


class Stopwatch(pl.Callback):
    """Times ``fit`` (from ``on_fit_start``: data already in memory, to ``on_fit_end``) and
    ``predict`` (from ``on_predict_start`` until the prediction file is written).

    Args:
        report_at_teardown: Report at teardown, when lightkit's prediction writer is done; a
            script that writes its predictions after ``trainer.predict`` returns passes ``False``
            and calls :meth:`finish_predict` once the file is written.
    """

    def __init__(self, report_at_teardown: bool = True) -> None:
        self.report_at_teardown = report_at_teardown
        self._start: dict[str, float] = {}
        self.times: dict[str, float] = {}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start["fit"] = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.times["fit_s"] = time.perf_counter() - self._start["fit"]

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start["predict"] = time.perf_counter()

    def finish_predict(self) -> None:
        """Stop the predict clock now and report."""
        self.times["predict_s"] = time.perf_counter() - self._start["predict"]
        report(self.times)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self.report_at_teardown:
            return
        if stage == "predict" and "predict" in self._start:
            self.times["predict_s"] = time.perf_counter() - self._start["predict"]
        if self.times:
            report(self.times)

    def state_dict(self) -> dict[str, Any]:
        return {}
