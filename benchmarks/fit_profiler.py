"""``FitProfiler``: cProfile over ``fit`` only (from ``on_fit_start`` to ``on_fit_end``).

``lightkit fit ... --trainer.callbacks+=benchmarks.fit_profiler.FitProfiler
--trainer.callbacks.path fit.prof`` (with the repository root on ``PYTHONPATH``) writes a
profile without the start-up, to read with ``python -m pstats fit.prof``.
"""

from __future__ import annotations

import cProfile

import lightning.pytorch as pl

__all__ = ["FitProfiler"]


class FitProfiler(pl.Callback):
    """Profiles the fit loop with cProfile and writes the stats to ``path``.

    Args:
        path: Where the pstats file goes.
    """

    def __init__(self, path: str = "fit.prof") -> None:
        self.path = path
        self._profile = cProfile.Profile()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._profile.enable()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._profile.disable()
        self._profile.dump_stats(self.path)
