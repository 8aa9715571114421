"""What ``lightkit fit`` says when it ends: the best score, the last epoch, the time, what to run next.

::

    best: val_loss=0.06356 at epoch 26 of 30
    last epoch: train_loss=0.03796  val_acc=0.9444  val_auroc=0.9978  val_f1=0.9484  val_loss=0.08906
    time: 14.2 s
    run directory: runs/wine
    best checkpoint: runs/wine/checkpoints/best.ckpt
    next:
      lightkit predict --ckpt_path runs/wine
      lightkit test --ckpt_path runs/wine
      lightkit runs show runs/wine

Paths are relative to the working directory when they are under it, as given otherwise.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

__all__ = ["fit_report", "headline_metrics", "next_commands", "relative", "seconds"]


def relative(path: Path | str) -> str:
    """``path`` relative to the working directory when it is under it, as given otherwise."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def seconds(value: float) -> str:
    """``8.4 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The numbers worth a line: the training loss and the validation metrics (else all of them)."""
    shown = {k: v for k, v in metrics.items() if k == "train_loss" or k.startswith("val_")}
    if len(shown) > 1 or (shown and "train_loss" not in shown):
        return shown
    return {k: v for k, v in metrics.items() if not k.startswith("lr-")}


def _numbers(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))


def next_commands(run_dir: Path) -> list[str]:
    """The commands a finished run is ready for, paths as they can be pasted."""
    run = shlex.quote(relative(run_dir))
    return [f"lightkit predict --ckpt_path {run}", f"lightkit test --ckpt_path {run}", f"lightkit runs show {run}"]


def _best(best: Any, run_dir: Path, epochs: int) -> str | None:
    """``val_loss=0.06356 at epoch 26 of 30``, the epoch read from the run's metrics.csv."""
    from lightkit.runs import best_row, read_metrics

    if best is None or best.best_model_score is None or not best.monitor:
        return None
    row = best_row(read_metrics(run_dir), best.monitor, best.mode)
    at = f" at epoch {int(row['epoch']) + 1} of {epochs}" if row and "epoch" in row else ""
    return f"{best.monitor}={float(best.best_model_score):.4g}{at}"


def _time(run_dir: Path) -> str | None:
    """This part's training time and, for a resumed run, the total over its parts (state.json)."""
    from lightkit.runs import read_state
    from lightkit.runs.elapsed import trained_seconds

    state = read_state(run_dir)
    start, end = state.get("part_started", state.get("started")), state.get("ended")
    if not isinstance(start, (int, float)) or not isinstance(end, (int, float)) or end < start:
        return None
    text = seconds(end - start)
    total, parts = trained_seconds(state, end), state.get("parts")
    if isinstance(parts, int) and parts > 1 and total is not None:
        text += f" (this part; {seconds(total)} in all, over {parts} parts)"
    return text


def fit_report(trainer: Any, run_dir: Path, best: Any = None, *, with_next: bool = True) -> list[str]:
    """The closing lines of a ``fit`` into ``run_dir``.

    Args:
        trainer: The trainer, after ``fit``: its last epoch's metrics are read from it.
        run_dir: The run directory.
        best: The ``ModelCheckpoint`` that wrote ``best.ckpt``, if any.
        with_next: End with the commands to run next.
    """
    from lightkit.training.progress import epoch_metrics

    lines = []
    if (score := _best(best, run_dir, trainer.current_epoch)) is not None:
        lines.append(f"best: {score}")
    if last := headline_metrics(epoch_metrics(dict(trainer.callback_metrics))):
        lines.append(f"last epoch ({trainer.current_epoch}): {_numbers(last)}")
    if (took := _time(run_dir)) is not None:
        lines.append(f"time: {took}")
    lines.append(f"run directory: {relative(run_dir)}")
    if best is not None and best.best_model_path:
        lines.append(f"best checkpoint: {relative(best.best_model_path)}")
    profiler = trainer.profiler
    if getattr(profiler, "dirpath", None) and getattr(profiler, "filename", None):
        for report in sorted(Path(profiler.dirpath).glob(f"fit-{profiler.filename}*.txt")):
            lines.append(f"profiler report: {relative(report)}")
    if with_next:
        lines += ["next:", *(f"  {command}" for command in next_commands(run_dir))]
    return lines
