"""``Stopwatch``: a Lightning callback that times the phases of a run and reports them on stderr.

The benchmark adds it to ``lightkit fit`` and ``lightkit predict`` with
``--trainer.callbacks+=benchmarks.stopwatch.Stopwatch`` and to the plain-Lightning reference, so
both are timed at the same hooks. The hand-written loop reports the same keys itself.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl

from benchmarks.timing import peak_rss_mb, report

__all__ = ["Stopwatch"]


class Stopwatch(pl.Callback):
    """Times ``fit`` (from ``on_fit_start``: data already in memory, to ``on_fit_end``) and
    ``predict`` (from ``on_predict_start`` until the prediction file is written), in wall time
    (``fit_s``, ``predict_s``) and CPU time of the process (``fit_cpu_s``, ``predict_cpu_s``).

    Args:
        report_at_teardown: Report at teardown, when lightkit's prediction writer is done; a
            script that writes its predictions after ``trainer.predict`` returns passes ``False``
            and calls :meth:`finish_predict` once the file is written.
    """

    def __init__(self, report_at_teardown: bool = True) -> None:
        self.report_at_teardown = report_at_teardown
        self._start: dict[str, tuple[float, float]] = {}
        self.times: dict[str, float] = {}

    def _begin(self, phase: str) -> None:
        self._start[phase] = (time.perf_counter(), time.process_time())

    def _end(self, phase: str) -> None:
        wall, cpu = self._start[phase]
        self.times[f"{phase}_s"] = time.perf_counter() - wall
        self.times[f"{phase}_cpu_s"] = time.process_time() - cpu

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.times["peak_rss_before_fit_mb"] = peak_rss_mb()
        self._begin("fit")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end("fit")

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._begin("predict")

    def finish_predict(self) -> None:
        """Stop the predict clock now and report."""
        self._end("predict")
        report(self.times)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self.report_at_teardown:
            return
        if stage == "predict" and "predict" in self._start:
            self._end("predict")
        if self.times:
            report(self.times)

    def state_dict(self) -> dict[str, Any]:
        return {}
