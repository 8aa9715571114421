"""One sweep trial: a normal ``lightkit fit`` run, in this process, that reports to Optuna.

``TrialCLI`` is :class:`~lightkit.cli.lightkit_cli.LightkitCLI` with two additions: the
:class:`TrialReporter` callback, and quiet output (no progress lines or model summary; these are
trainer arguments passed at instantiation, so the run's ``config.yaml`` does not contain them and
``lightkit fit --config <run>/config.yaml`` reruns the trial exactly as a plain fit).

Why not optuna-integration's ``PyTorchLightningPruningCallback``: it raises ``TrialPruned`` from
inside the training loop, so Lightning takes its exception path (loggers finalised as failed, no
``last.ckpt`` for the pruned epoch), and it is one more dependency pinned to Optuna's release
cycle. ``TrialReporter`` is a few lines: it reports the metric each epoch and, when the pruner says
so, asks the trainer to stop after the epoch; the trial is then told PRUNED.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lightkit.cli.lightkit_cli import LightkitCLI, command_options
from lightkit.errors import ConfigError, LightkitError

__all__ = ["TrialCLI", "TrialOutcome", "TrialReporter", "check_trial_args", "run_trial"]


class TrialReporter(pl.Callback):
    """Reports ``metric`` to an Optuna trial after every validation and stops pruned trials.

    Args:
        trial: The ``optuna.Trial`` being run, or ``None`` to only record the values.
        metric: The logged metric to report (``val_loss``, ``val_acc``, ...).
        on_start: Called with the run's resolved config text once the fit starts.
    """

    def __init__(self, trial: Any, metric: str, on_start: Callable[[str], None] | None = None) -> None:
        self.trial = trial
        self.metric = metric
        self.on_start = on_start
        self.values: dict[int, float] = {}
        self.pruned_at: int | None = None
        self.exception: BaseException | None = None
        self.logged: list[str] = []
        self.run_dir: Path | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Hand the run's resolved config (written by the run recorder at setup) to ``on_start``."""
        config = self.run_dir / "config.yaml" if self.run_dir is not None else None
        if self.on_start is not None and config is not None and config.is_file():
            self.on_start(config.read_text())

    def _report(self, trainer: pl.Trainer) -> None:
        self.logged = sorted(trainer.callback_metrics)
        value = trainer.callback_metrics.get(self.metric)
        if value is None:
            return
        epoch = trainer.current_epoch
        number = float(value)
        self.values[epoch] = number
        if self.trial is None:
            return
        self.trial.report(number if math.isfinite(number) else float("nan"), step=epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.should_stop = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Report after each validation (not the sanity check)."""
        if not trainer.sanity_checking:
            self._report(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Report a training metric when the run has no validation."""
        if not trainer.enable_validation or trainer.limit_val_batches == 0:
            self._report(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Remember why the fit stopped, to tell an interruption from a failure."""
        self.exception = exception


class TrialCLI(LightkitCLI):
    """``LightkitCLI`` for one trial: quiet, with a :class:`TrialReporter` among the callbacks.

    Args:
        args: The ``lightkit fit`` arguments of the trial.
        reporter: The reporter to add to the trainer's callbacks.
        on_run_dir: Called with the run directory as soon as it is chosen.
    """

    def __init__(
        self, args: list[str], reporter: TrialReporter, on_run_dir: Callable[[Path], None] | None = None
    ) -> None:
        self._reporter = reporter
        self._on_run_dir = on_run_dir
        super().__init__(args=args, **command_options())  # a trial trains exactly as `lightkit fit`

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """The usual trainer, quiet, with the reporter; DDP inside a trial is refused."""
        kwargs.setdefault("enable_progress_bar", False)
        kwargs.setdefault("enable_model_summary", False)
        configured = self._get(self.config_init, "trainer", default={}).get("callbacks") or []
        kwargs["callbacks"] = [*configured, self._reporter]
        trainer = super().instantiate_trainer(**kwargs)
        if trainer.strategy.launcher is not None or trainer.world_size > 1:
            raise ConfigError(
                f"sweep trials run inside the sweep process; strategy {type(trainer.strategy).__name__} "
                f"with {trainer.world_size} processes would start the sweep again in every process",
                "sweep on one device per trial and start more workers instead (see docs/sweeps.md).",
            )
        self._reporter.run_dir = self.run_dir
        if self._on_run_dir is not None and self.run_dir is not None:
            self._on_run_dir(self.run_dir)
        return trainer

    def after_fit(self) -> None:
        """Stay quiet: the sweep prints one line per trial."""


@dataclass
class TrialOutcome:
    """How a trial ended.

    Attributes:
        state: ``complete``, ``pruned``, ``failed``, ``interrupted`` or ``config_error``.
        values: The metric by epoch.
        error: The error message of a failed trial.
        run_dir: The trial's run directory.
    """

    state: str
    values: dict[int, float] = field(default_factory=dict)
    error: str | None = None
    run_dir: Path | None = None
    pruned_at: int | None = None

    def value(self, direction: str, which: str) -> float | None:
        """The trial's value: the best epoch's (``which='best'``) or the last epoch's metric."""
        finite = {e: v for e, v in self.values.items() if math.isfinite(v)}
        if not finite:
            return None
        if which == "last":
            return self.values[max(self.values)]
        return min(finite.values()) if direction == "minimize" else max(finite.values())


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    names = ("lightning.pytorch", "lightning.fabric", "lightning")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _last_error(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    picked = [line for line in lines if line.startswith(("error:", "hint:", "  "))]
    return "\n".join(picked[-6:] or lines[-3:]) or "the run ended with an error"


def run_trial(
    args: list[str], reporter: TrialReporter, on_run_dir: Callable[[Path], None] | None = None
) -> TrialOutcome:
    """Run ``lightkit fit ARGS`` in this process and say how it ended.

    A metric that never appears is a config error (the sweep stops); an exception in training
    is a failed trial (the sweep goes on); Ctrl-C or SIGTERM is an interruption.
    """
    run_dir: list[Path] = []

    def seen(path: Path) -> None:
        run_dir.append(path)
        if on_run_dir is not None:
            on_run_dir(path)

    captured = io.StringIO()
    state, error = "complete", None
    # Lightning ignores SIGINT after handling a Ctrl-C; the sweep process goes on and must not
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with _quiet_logs(), contextlib.redirect_stderr(captured):
            TrialCLI(args=["fit", *args], reporter=reporter, on_run_dir=seen)
    except KeyboardInterrupt:
        state = "interrupted"
    except SystemExit as exit_:
        if isinstance(reporter.exception, (KeyboardInterrupt, SIGTERMException)) or isinstance(
            exit_, SIGTERMException
        ):
            state = "interrupted"
        elif exit_.code == 2:
            state, error = "config_error", _last_error(captured.getvalue())
        elif exit_.code not in (0, None):
            state, error = "failed", _last_error(captured.getvalue())
    except LightkitError as err:
        state, error = ("config_error" if err.exit_code == 2 else "failed"), str(err)
    except Exception as err:  # noqa: BLE001 - any crash inside a trial fails that trial only
        state, error = "failed", f"{type(err).__name__}: {err}"
    finally:
        if sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)
    outcome = TrialOutcome(
        state, dict(reporter.values), error, run_dir[0] if run_dir else None, reporter.pruned_at
    )
    if state == "complete":
        if reporter.pruned_at is not None:
            outcome.state = "pruned"
        elif not reporter.values:
            logged = ", ".join(m for m in reporter.logged if not m.endswith("_step")) or "none"
            outcome.state = "config_error"
            outcome.error = (
                f"error: metric {reporter.metric!r} was never logged during the trial\n"
                f"hint: logged metrics: {logged}; set `metric:` in the sweep file to one of them."
            )
    return outcome


class _ParseOnly(BaseException):  # not an Exception: no handler on the way may swallow it
    """Carries a parse error out of LightkitCLI without it being printed."""

    def __init__(self, error: LightkitError | None) -> None:
        super().__init__(str(error))
        self.error = error


class _CheckCLI(LightkitCLI):
    def parse_arguments(self, parser: Any, args: Any) -> None:
        try:
            super().parse_arguments(parser, args)
        except LightkitError as err:
            raise _ParseOnly(err) from None
        raise _ParseOnly(None)


def check_trial_args(args: list[str]) -> None:
    """Parse ``lightkit fit ARGS`` without running anything.

    Raises:
        LightkitError: The arguments do not parse; the error of ``lightkit fit`` itself.
    """
    try:
        with _quiet_logs(), contextlib.redirect_stderr(io.StringIO()):
            _CheckCLI(args=["fit", *args], **command_options())
    except _ParseOnly as parsed:
        if parsed.error is not None:
            raise parsed.error from None
    except SystemExit as exit_:  # a LightkitError raised before parsing and printed by LightkitCLI
        if exit_.code not in (0, None):
            raise ConfigError(
                "the sweep's base config or flags do not parse", "run the same `lightkit fit` to see why."
            ) from None
