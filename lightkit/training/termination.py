"""``SaveOnTerminate``: when a scheduler sends SIGTERM, save ``last.ckpt`` and exit cleanly.

Lightning (2.6) already catches SIGTERM: its handler sets ``trainer.received_sigterm`` and the
loops raise ``SIGTERMException`` (a ``SystemExit``) at the next batch or epoch boundary, after
calling every callback's ``on_exception``. It saves nothing, and the process exits with code 0.
This callback adds the missing parts: it writes ``last.ckpt`` through the trainer (so through
the atomic checkpoint IO), prints how to resume, and sets the exit code to 143 (128 + SIGTERM),
which is what schedulers expect from a job that stopped because it was told to.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ["SIGTERM_EXIT_CODE", "SaveOnTerminate"]

#: exit code of a run stopped by SIGTERM: 128 + signal number 15
SIGTERM_EXIT_CODE = 143


class SaveOnTerminate(pl.Callback):
    """Saves ``last.ckpt`` when the run is stopped by SIGTERM, and says how to resume.

    The checkpoint goes next to the others (the ``ModelCheckpoint``'s directory); with
    checkpointing disabled nothing is saved and the message says so.
    """

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """On ``SIGTERMException``: save, print, and set exit code 143."""
        if not isinstance(exception, SIGTERMException):
            return
        exception.code = SIGTERM_EXIT_CODE
        where = f"epoch {trainer.current_epoch}, global step {trainer.global_step}"
        path = _last_path(trainer)
        if trainer.state.fn != "fit" or path is None or trainer.sanity_checking:
            _say(trainer, f"received SIGTERM at {where}; stopping (no checkpoint to save)")
            return
        trainer.save_checkpoint(path, weights_only=False)
        _say(
            trainer,
            f"received SIGTERM at {where}: saved {path}\nresume with: lightkit fit --ckpt_path {path}",
        )


def _last_path(trainer: pl.Trainer) -> Path | None:
    callback = trainer.checkpoint_callback
    if not isinstance(callback, ModelCheckpoint) or callback.dirpath is None or trainer.fast_dev_run:
        return None
    return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"


def _say(trainer: pl.Trainer, text: str) -> None:
    if trainer.is_global_zero:
        print(text, file=sys.stderr, flush=True)
