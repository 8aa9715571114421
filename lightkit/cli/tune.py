"""``lightkit tune lr|batch_size``: Lightning's ``Tuner`` on exactly what ``lightkit fit`` would build.

``lightkit tune lr --config c.yaml`` takes the same config files and flags as ``fit``, builds the
model, data module and trainer through :class:`~lightkit.cli.lightkit_cli.LightkitCLI`, and runs
``Tuner.lr_find``: it prints the suggested learning rate and saves Lightning's loss-versus-rate
plot. ``lightkit tune batch_size`` runs ``Tuner.scale_batch_size`` on the data module's
``batch_size``. With ``--write_config out.yaml`` either writes the full config with the result
applied, so that ``lightkit fit --config out.yaml`` trains with it.

The tuner's trials train the model for a few steps and then restore its weights; they write no
run directory, no logs and no checkpoints.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from lightkit.errors import ConfigError, DataError, UsageError
from lightkit.registry import did_you_mean
from lightkit.runs import RUNS_ROOT

__all__ = ["BatchSizeOptions", "LRFindOptions", "main"]

_USAGE = """usage: lightkit tune {lr,batch_size} [--config CONFIG] [fit options] [tune options]

Run Lightning's Tuner on the model, data and trainer that `lightkit fit` would build.

commands:
  lr          Find a learning rate (Tuner.lr_find): prints it and saves the loss-vs-rate plot.
  batch_size  Find the largest batch size that runs (Tuner.scale_batch_size).

examples:
  lightkit tune lr --config configs/wine_mlp.yaml --write_config tuned.yaml
  lightkit fit --config tuned.yaml
  lightkit tune batch_size --config configs/wine_mlp.yaml --mode binsearch

Run `lightkit tune lr --help` for every option.
"""

#: names of a model's learning-rate argument, in order of preference
LR_NAMES = ("lr", "learning_rate")


@dataclass
class LRFindOptions:
    """Options of ``lightkit tune lr`` (Lightning's ``Tuner.lr_find``).

    Args:
        write_config: Write the full config, with the suggested rate applied, to this YAML file.
        plot: Where to save the loss-versus-learning-rate plot (PNG); by default beside
            ``--write_config`` (``tuned.yaml`` -> ``tuned.lr_find.png``), else ``lr_find.png`` under the
            runs root (``--trainer.default_root_dir``, ``runs/``).
        min_lr: Smallest learning rate tried.
        max_lr: Largest learning rate tried.
        num_training: Number of learning rates tried, one training step each.
        mode: How the rate grows from step to step.
        early_stop_threshold: Stop once the loss exceeds this multiple of the best loss so far;
            null never stops.
    """

    write_config: str | None = None
    plot: str | None = None
    min_lr: float = 1e-8
    max_lr: float = 1.0
    num_training: int = 100
    mode: Literal["exponential", "linear"] = "exponential"
    early_stop_threshold: float | None = 4.0


@dataclass
class BatchSizeOptions:
    """Options of ``lightkit tune batch_size`` (Lightning's ``Tuner.scale_batch_size``).

    Args:
        write_config: Write the full config, with the batch size found applied, to this YAML file.
        mode: ``power`` doubles the batch size until a trial runs out of memory; ``binsearch``
            then bisects between the last size that ran and the first that did not.
        steps_per_trial: Training steps run with each batch size.
        init_val: Batch size of the first trial.
        max_trials: Most batch sizes tried.
        max_val: Largest batch size tried; by default the number of training rows when the
            loader tells it (no larger batch exists), else 8192. On a CPU nothing runs out of
            memory, so the search ends here.
    """

    write_config: str | None = None
    mode: Literal["power", "binsearch"] = "power"
    steps_per_trial: int = 3
    init_val: int = 2
    max_trials: int = 25
    max_val: int | None = None


_OPTIONS = {"lr": LRFindOptions, "batch_size": BatchSizeOptions}

#: loggers whose lines about the tuner's own trials are noise
_TRIAL_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.pytorch.trainer.connectors.checkpoint_connector",
)


class _TrialNoise(logging.Filter):
    """Drops Lightning's per-trial lines (each trial is a short ``fit``) while tuning."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not message.startswith(("`Trainer.fit` stopped: `max_steps=", "`weights_only` was not set"))


def main(argv: list[str]) -> int:
    """Run ``lightkit tune ARGV``; returns the exit code."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, end="")
        return 0
    what, rest = argv[0], argv[1:]
    if what not in _OPTIONS:
        hint = did_you_mean(what, list(_OPTIONS))
        raise UsageError(f"unknown tune command {what!r}", hint + "tune commands are: lr, batch_size.")
    cli = _tune_cli()(what, args=rest)
    return cli.tune()


def _tune_cli() -> type:
    """The CLI class, built on first use so that importing this module costs no torch."""
    import copy

    from lightning.pytorch import Trainer

    from lightkit.cli.lightkit_cli import LightkitCLI, command_options

    class TuneCLI(LightkitCLI):
        """LightkitCLI without a subcommand: parses and builds like ``fit``, then tunes."""

        def __init__(self, what: str, args: list[str]) -> None:
            self.what = what
            self.options_class = _OPTIONS[what]
            self._workdir = tempfile.TemporaryDirectory(prefix="lightkit-tune-")
            super().__init__(
                args=args, run=False, **command_options(parser_kwargs={"prog": f"lightkit tune {what}"})
            )

        def add_arguments_to_parser(self, parser: Any) -> None:
            """``fit``'s run options plus this command's options (``--write_config``, ...)."""
            super().add_arguments_to_parser(parser)
            parser.add_class_arguments(self.options_class, None, as_group=True)

        def before_instantiate_classes(self) -> None:
            self.plain_config = copy.deepcopy(self.config)
            self.options = self.options_class(
                **{f.name: self.config[f.name] for f in fields(self.options_class)}
            )
            _check_options(self.options)
            # outputs refused before anything is written (lightkit.files)
            from lightkit.cli.outputs import command_inputs
            from lightkit.files import check_output

            inputs = command_inputs(self.config, self._argv, skip=("write_config", "plot"))
            for flag in ("write_config", "plot"):
                if getattr(self.options, flag, None):
                    check_output(getattr(self.options, flag), f"--{flag}", inputs)

        def instantiate_trainer(self, **kwargs: Any) -> Trainer:
            """The configured trainer, minus what only a real run needs: logs, checkpoints, progress bar."""
            if not (self._get(self.config_init, "trainer", default={}) or {}).get("plugins"):
                from lightkit.training.checkpoint_io import AtomicCheckpointIO

                kwargs["plugins"] = [AtomicCheckpointIO()]  # loads the tuner's own checkpoint weights-only
            kwargs.update(
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                default_root_dir=self._workdir.name,
                max_epochs=-1,  # the tuner bounds its trials by steps; epochs must not cut them short
            )
            return super().instantiate_trainer(**kwargs)

        def tune(self) -> int:
            from lightning.pytorch.tuner import Tuner

            quiet = _TrialNoise()
            loggers = [logging.getLogger(name) for name in _TRIAL_LOGGERS]
            for logger in loggers:
                logger.addFilter(quiet)
            tqdm_disable = os.environ.get("TQDM_DISABLE")
            if not sys.stderr.isatty():  # the finder's progress bar is one endless line in a log file
                os.environ["TQDM_DISABLE"] = "1"
            try:
                tuner = Tuner(self.trainer)
                if self.what == "lr":
                    return self._tune_lr(tuner)
                return self._tune_batch_size(tuner)
            finally:
                if tqdm_disable is None:
                    os.environ.pop("TQDM_DISABLE", None)
                else:
                    os.environ["TQDM_DISABLE"] = tqdm_disable
                for logger in loggers:
                    logger.removeFilter(quiet)
                self._workdir.cleanup()

        # -- learning rate ---------------------------------------------------------------------------
        def _tune_lr(self, tuner: Any) -> int:
            o = self.options
            target = _lr_target(self._config_dict(), self.model) if o.write_config else None
            finder = tuner.lr_find(
                self.model,
                datamodule=self.datamodule,
                min_lr=o.min_lr,
                max_lr=o.max_lr,
                num_training=o.num_training,
                mode=o.mode,
                early_stop_threshold=o.early_stop_threshold,
                update_attr=False,
            )
            if finder is None:
                raise UsageError(
                    "the learning-rate finder does not run with fast_dev_run",
                    "leave out --trainer.fast_dev_run.",
                )
            rate = suggest_lr(finder, o.mode)
            plot = _save_lr_plot(finder, _plot_path(o, self._runs_root_dir()), rate)
            tried = len(finder.results.get("lr", []))
            if rate is None:
                raise DataError(
                    f"the learning-rate finder made no suggestion after {tried} steps (loss curve: {plot})",
                    "try more steps (--num_training 200), a wider range (--min_lr, --max_lr), or "
                    "--early_stop_threshold null.",
                )
            print(f"suggested learning rate: {rate:.3g}")
            print(f"loss-vs-learning-rate plot ({tried} rates tried): {plot}", file=sys.stderr)
            if o.write_config:
                self._write_config(Path(o.write_config), target, float(f"{rate:.3g}"))
            return 0

        def _runs_root_dir(self) -> Path:
            """``--trainer.default_root_dir``, else ``runs/``: where the plot goes by default."""
            trainer = self.config.get("trainer") if hasattr(self.config, "get") else None
            root = trainer.get("default_root_dir") if hasattr(trainer, "get") else None
            return Path(root or RUNS_ROOT)

        # -- batch size --------------------------------------------------------------------------------
        def _tune_batch_size(self, tuner: Any) -> int:
            import inspect

            o = self.options
            data = self.datamodule
            if data is None or "batch_size" not in inspect.signature(type(data).__init__).parameters:
                name = type(data).__name__ if data is not None else "none"
                raise ConfigError(
                    f"data module {name} has no batch_size argument, so its batch size cannot be tuned",
                    "tune batch_size needs a data module whose __init__ takes batch_size, such as "
                    "CSVDataModule or SklearnDataModule.",
                )
            rows = _train_rows(data)
            max_val = o.max_val or rows or 8192
            # Lightning sets init_val only after building the first loader, so its first trial would
            # run with the configured size; start from init_val ourselves.
            data.batch_size = o.init_val
            found = tuner.scale_batch_size(
                self.model,
                datamodule=data,
                mode=o.mode,
                steps_per_trial=o.steps_per_trial,
                init_val=o.init_val,
                max_trials=o.max_trials,
                batch_arg_name="batch_size",
                max_val=max_val,
            )
            if found is None:
                raise UsageError(
                    "the batch-size finder does not run with fast_dev_run",
                    "leave out --trainer.fast_dev_run.",
                )
            note = ""
            if rows and found >= rows:
                found = rows  # Lightning may return the doubled size it stopped at, untried
                note = f" (all {rows} training rows in one batch: no larger batch exists)"
            elif found >= max_val:
                found = max_val
                note = " (the --max_val limit: nothing ran out of memory below it)"
            print(f"batch size found: {found}{note}")
            if o.write_config:
                self._write_config(Path(o.write_config), ("data", "batch_size"), found)
            return 0

        # -- writing the config --------------------------------------------------------------------------
        def _config_dict(self) -> dict[str, Any]:
            import yaml

            config = yaml.safe_load(self.parser.dump(self.plain_config, skip_none=False)) or {}
            for field in fields(self.options_class):
                config.pop(field.name, None)
            return config

        def _write_config(self, path: Path, target: tuple[str, str], value: Any) -> None:
            import yaml

            config = self._config_dict()
            section, key = target
            holder = config[section]
            if isinstance(holder.get("init_args"), dict) or "class_path" in holder:
                holder = holder.setdefault("init_args", {})
            holder[key] = value
            from lightkit.files import atomic_write

            header = f"# written by `lightkit tune {self.what}`: {section}.{key} = {value}\n"
            atomic_write(path, header + yaml.safe_dump(config, sort_keys=False))
            where = f"{section}.init_args.{key}" if holder is not config[section] else f"{section}.{key}"
            print(
                f"config with {where} = {value} written to {path}; train with: lightkit fit --config {path}",
                file=sys.stderr,
            )

    return TuneCLI


def _check_options(options: LRFindOptions | BatchSizeOptions) -> None:
    """The tuner's numbers in their domain, and its ranges the right way round (lightkit.checks)."""
    from lightkit.checks import at_least, ordered, positive

    if isinstance(options, LRFindOptions):
        positive("--min_lr", options.min_lr)
        positive("--max_lr", options.max_lr)
        ordered("--min_lr", options.min_lr, "--max_lr", options.max_lr)
        positive("--num_training", options.num_training, integer=True)
        if options.early_stop_threshold is not None:
            positive("--early_stop_threshold", options.early_stop_threshold)
        return
    positive("--steps_per_trial", options.steps_per_trial, integer=True)
    positive("--init_val", options.init_val, integer=True)
    positive("--max_trials", options.max_trials, integer=True)
    if options.max_val is not None:
        at_least("--max_val", options.max_val, options.init_val, integer=True)


def _lr_target(config: dict[str, Any], model: Any) -> tuple[str, str]:
    """Where the rate goes: the optimizer's ``lr`` when one is configured, else the model's own argument."""
    import inspect

    if isinstance(config.get("optimizer"), dict) and config["optimizer"]:
        return ("optimizer", "lr")
    params = inspect.signature(type(model).__init__).parameters
    for name in LR_NAMES:
        if name in params:
            return ("model", name)
    raise ConfigError(
        f"model {type(model).__name__} has no lr or learning_rate argument and no --optimizer is set, "
        "so the rate has nowhere to go in the config",
        "add an optimizer (--optimizer Adam: the rate goes to optimizer.init_args.lr), "
        "or leave out --write_config.",
    )


def _train_rows(datamodule: Any) -> int | None:
    """Rows of the training split, when the data module's loader tells them; else None."""
    try:
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
    except Exception:  # noqa: BLE001 - a data module that cannot do this outside a trainer just has no limit
        return None
    rows = getattr(loader, "num_rows", None)
    if rows is None:
        try:
            rows = len(loader.dataset)
        except (AttributeError, TypeError):
            return None
    return int(rows)


def suggest_lr(finder: Any, mode: str, skip_begin: int = 10, skip_end: int = 1) -> float | None:
    """Lightning's suggestion rule, the steepest descent of the smoothed loss, taken against ``log10(lr)``.

    Lightning 2.6's ``_LRFinder.suggestion`` differentiates against the rate itself although the
    rates are spaced exponentially, so noise among the tiniest rates wins (Lightning issue #21141,
    pull request #21171). This keeps its rule and its skipped points and fixes the spacing.
    """
    import torch

    if finder.suggestion(skip_begin, skip_end) is None:  # too few points: Lightning has logged why
        return None
    if mode != "exponential":
        return finder.results["lr"][finder._optimal_idx]
    lrs = torch.tensor(finder.results["lr"], dtype=torch.float64)
    losses = torch.tensor(finder.results["loss"], dtype=torch.float64)
    index = torch.arange(len(losses))[skip_begin:-skip_end]
    index = index[torch.isfinite(losses[index])]
    gradients = torch.gradient(losses[index], spacing=[torch.log10(lrs[index])])[0]
    finder._optimal_idx = int(index[torch.argmin(gradients)])
    return float(lrs[finder._optimal_idx])


def _plot_path(options: LRFindOptions, runs_root: Path) -> Path:
    """``--plot``; else beside ``--write_config``; else ``lr_find.png`` under the runs root.

    Nothing lands in the working directory unless asked for.
    """
    if options.plot:
        return Path(options.plot)
    if options.write_config:
        config = Path(options.write_config)
        return config.with_name(f"{config.stem}.lr_find.png")
    return runs_root / "lr_find.png"


def _save_lr_plot(finder: Any, path: Path, rate: float | None) -> Path:
    """Lightning's own loss-versus-rate plot, with the suggestion marked, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = finder.plot(suggest=False, show=False)
    ax = fig.axes[0]
    if rate is not None and finder._optimal_idx is not None:
        loss = finder.results["loss"][finder._optimal_idx]
        ax.plot(rate, loss, marker="o", markersize=10, color="red", label=f"suggested lr {rate:.3g}")
        ax.legend()
    ax.set_title("lightkit tune lr: smoothed training loss vs learning rate")
    from lightkit.files import atomic_writer

    with atomic_writer(path) as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
