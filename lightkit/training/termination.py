"""``SaveOnTerminate``: a run stopped by SIGTERM or Ctrl-C says what was kept and how to resume.

Lightning (2.6) catches both. SIGTERM: its handler sets ``trainer.received_sigterm``, the loops
raise ``SIGTERMException`` (a ``SystemExit``) at the next batch boundary after calling every
callback's ``on_exception``, and the process exits with code 0. Ctrl-C: it prints "Detected
KeyboardInterrupt, attempting graceful shutdown", calls ``on_exception`` and exits with code 1.

lightkit writes ``last.ckpt`` at the end of every training epoch
(:class:`~lightkit.training.run_setup.LastCheckpoint`), so a stop keeps the last *complete*
epoch, and resuming from it is exact: the part-epoch that was cut short is trained again, with the
same random numbers, and its rows are dropped from ``metrics.csv``. A mid-epoch checkpoint would
not resume exactly (the data loader has no position to restore), so none is written. This
callback prints what was kept and the one command that resumes the run, and sets the exit code
to 143 (128 + SIGTERM) or 130 (128 + SIGINT), which is what shells and schedulers expect.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ["SIGINT_EXIT_CODE", "SIGTERM_EXIT_CODE", "SaveOnTerminate"]

#: exit code of a run stopped by SIGTERM: 128 + signal number 15
SIGTERM_EXIT_CODE = 143
#: exit code of a run stopped by Ctrl-C: 128 + signal number 2
SIGINT_EXIT_CODE = 130


class SaveOnTerminate(pl.Callback):
    """Says what a stopped run kept and how to resume it; sets the exit code to 143 or 130.

    Args:
        last: The run's ``last.ckpt`` (``None`` when checkpointing is off).
        resume: The command that resumes the run.
    """

    def __init__(self, last: Path | None = None, resume: str | None = None) -> None:
        self.last = last
        self.resume = resume
        #: ``"SIGTERM"`` or ``"SIGINT"`` once the run was stopped by one
        self.stopped_by: str | None = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """On SIGTERM or Ctrl-C: say what was kept, and how to resume."""
        if isinstance(exception, SIGTERMException):
            exception.code = SIGTERM_EXIT_CODE
            self.stopped_by = "SIGTERM"
        elif isinstance(exception, KeyboardInterrupt):
            self.stopped_by = "SIGINT"
        else:
            return
        what = "received SIGTERM" if self.stopped_by == "SIGTERM" else "interrupted (Ctrl-C)"
        where = f"in epoch {trainer.current_epoch + 1}, global step {trainer.global_step}"
        if trainer.state.fn != "fit" or self.last is None or not self.last.is_file():
            _say(trainer, f"{what} {where}; no epoch had finished, so there is no checkpoint to resume from")
            return
        _say(
            trainer,
            f"{what} {where}; {self.last} holds the last complete epoch\n"
            + (f"resume with: {self.resume}" if self.resume else ""),
        )


def _say(trainer: pl.Trainer, text: str) -> None:
    if trainer.is_global_zero:
        print(text.rstrip(), file=sys.stderr, flush=True)
