"""The cross-validation command: ``lightkit fit ... --cv.folds K`` and fold-ensemble ``predict``.

``lightkit fit --config c.yaml --cv.folds 5`` trains five models, each a normal run directory
(``fold-1`` ... ``fold-5``) inside one parent directory, ``runs/cv-<model>-<data>-<time>/`` or
``runs/<--run.name>/``. Each fold's validation metrics are taken at its best checkpoint; the
parent gets ``cv.json`` (options, fold runs, metrics, mean and standard deviation) and
``cv_metrics.csv``. ``lightkit predict --ckpt_path <parent>`` predicts with every fold's best
checkpoint and averages the outputs (probabilities for classification, values for regression).

The fold protocol
-----------------
A data module opts in with one method::

    def set_fold(self, index: int, count: int, seed: int) -> None:
        \"\"\"Validate on fold ``index`` (0-based) of ``count``; train on the others.\"\"\"

lightkit calls it right after building the data module, before anything reads data or asks for
``data_shape``, so anything fitted on the train split (preprocessing) is fitted on the fold's
train part only. The rows of the test and predict splits must not depend on the fold: fold
predictions are averaged row by row. :func:`lightkit.data.folds.fold_split` does the splitting (stratified for
classification, shuffled with ``seed``). Storing the fold in ``state_dict`` makes a fold's
checkpoint validate on its own fold. :class:`~lightkit.components.tabular_data.TabularDataModule`
(and so ``CSVDataModule`` and ``SklearnDataModule``) implements the protocol.

This module imports neither torch nor Lightning until a command runs.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import statistics
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightkit.cli.argv import flag_value
from lightkit.errors import ConfigError, UsageError
from lightkit.runs import CV_FILE

if TYPE_CHECKING:
    pass

__all__ = ["CVOptions", "handles", "main"]

#: the per-fold metrics table in a cross-validation parent directory
METRICS_FILE = "cv_metrics.csv"


@dataclass
class CVOptions:
    """Cross-validation options, given on the ``fit`` command line.

    Args:
        folds: Number of folds (at least 2): one model per fold.
        seed: Seed of the assignment of rows to folds.
    """

    folds: int
    seed: int = 42


# -- command line ----------------------------------------------------------------------------------
def _without(args: list[str], *flags: str) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in flags:
            skip = True
        elif not any(arg.startswith(f + "=") for f in flags):
            out.append(arg)
    return out


def _is_cv_parent(value: str | None) -> bool:
    return value is not None and (Path(value) / CV_FILE).is_file()


def handles(command: str, args: list[str]) -> bool:
    """Whether ``lightkit COMMAND ARGS`` is a cross-validation command (``--cv.*``, or a parent directory)."""
    if command == "fit":
        return any(a.startswith("--cv.") for a in args)
    return _is_cv_parent(flag_value(args, "--ckpt_path"))


def _take_options(args: list[str]) -> tuple[list[str], CVOptions]:
    rest: list[str] = []
    values: dict[str, int] = {}
    it = iter(args)
    for arg in it:
        if not arg.startswith("--cv."):
            rest.append(arg)
            continue
        key, eq, value = arg[len("--cv.") :].partition("=")
        if key not in ("folds", "seed"):
            raise UsageError(
                f"unknown option --cv.{key}", "cross-validation takes --cv.folds K and --cv.seed S."
            )
        raw = value if eq else next(it, None)
        try:
            values[key] = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise UsageError(f"--cv.{key} needs a whole number, got {raw!r}") from None
    if "folds" not in values:
        raise UsageError(
            "--cv.seed was given without --cv.folds", "add --cv.folds K (K >= 2) to cross-validate."
        )
    if values["folds"] < 2:
        raise UsageError(
            f"--cv.folds must be at least 2, got {values['folds']}", "use --cv.folds 5, for example."
        )
    return rest, CVOptions(**values)


def main(args: list[str]) -> int:
    """Run ``lightkit fit ... --cv.folds K`` or ``lightkit predict --ckpt_path <cv dir>``.

    Args:
        args: The command (``fit``, ``predict``, ...) and its arguments.
    """
    command, rest = args[0], args[1:]
    if command == "fit":
        if flag_value(rest, "--ckpt_path"):
            raise UsageError(
                "--ckpt_path cannot be combined with --cv.folds",
                "to resume one fold, run `lightkit fit --ckpt_path <parent>/fold-N`.",
            )
        rest, options = _take_options(rest)
        return fit_folds(rest, options)
    if command == "predict":
        return predict_folds(rest)
    parent = flag_value(rest, "--ckpt_path")
    raise UsageError(
        f"{parent!r} (from --ckpt_path) holds a cross-validation, not one run",
        f"{command} one fold with --ckpt_path {Path(str(parent)) / 'fold-1'}, or average them all with "
        f"`lightkit predict --ckpt_path {parent}`.",
    )


# -- fit -------------------------------------------------------------------------------------------
def _fold_cli() -> type:
    """LightkitCLI that applies a fold to the data module and places the run in the parent directory."""
    from lightning.pytorch import LightningDataModule

    from lightkit.cli.lightkit_cli import LightkitCLI
    from lightkit.runs import RUNS_ROOT, new_run_dir

    def _short(class_path: str) -> str:
        return str(class_path).rsplit(".", 1)[-1]

    class FoldCLI(LightkitCLI):
        def __init__(self, index: int, options: CVOptions, parent: Path | None, **kwargs: Any) -> None:
            self.fold_index, self.options, self.parent = index, options, parent
            self.fold_applied = False
            super().__init__(**kwargs)

        def before_instantiate_classes(self) -> None:
            cfg = self.config[self.config["subcommand"]]
            if cfg.get("data") is None:
                raise ConfigError(
                    "cross-validation needs a data module", "select one with --data or in the config."
                )
            if self.parent is None:
                model = _short(getattr(cfg.model, "class_path", None) or "model")
                data = _short(getattr(cfg.data, "class_path", None) or "data")
                name = cfg.run.name or f"cv-{model}-{data}-{datetime.now():%Y%m%d-%H%M%S}"
                self.parent = new_run_dir(cfg.trainer.default_root_dir or RUNS_ROOT, name, model, data)
            cfg.trainer.default_root_dir, cfg.run.name = str(self.parent), f"fold-{self.fold_index + 1}"

        build_data_first = True
        report_next_commands = False  # the whole cross-validation says what to run next

        def instantiate_trainer(self, **kwargs: Any) -> Any:
            trainer = super().instantiate_trainer(**kwargs)
            if self.fold_index > 0:  # the folds share one model: its summary is printed once, by fold 1
                from lightning.pytorch.callbacks import ModelSummary

                trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, ModelSummary)]
            return trainer

        def instantiate_datamodule(self, cfg: Any) -> LightningDataModule:
            datamodule = super().instantiate_datamodule(cfg)
            set_fold = getattr(datamodule, "set_fold", None)
            if not callable(set_fold):
                raise ConfigError(
                    f"data module {type(datamodule).__name__} cannot be cross-validated: "
                    "it has no set_fold method",
                    "add `set_fold(index, count, seed)` (see 'The fold protocol' in "
                    "docs/runs-and-tuning.md), "
                    "or use CSVDataModule or SklearnDataModule.",
                )
            set_fold(self.fold_index, self.options.folds, self.options.seed)
            self.fold_applied = True
            return datamodule

        def before_fit(self) -> None:
            if not self.fold_applied:  # LightkitCLI changed how it builds the data module
                raise RuntimeError("internal error: the fold was not applied to the data module")

    return FoldCLI


def _fold_metrics(cli: Any) -> dict[str, float]:
    """Validation metrics of a fold at its best checkpoint (else its last validation)."""
    from lightkit.runs import best_row, read_metrics

    ckpt = cli.trainer.checkpoint_callback
    monitor, mode = getattr(ckpt, "monitor", None), getattr(ckpt, "mode", "min")
    rows = read_metrics(cli.run_dir) if cli.run_dir is not None else []
    row = best_row(rows, monitor, mode) if monitor else None
    if row is None:
        row = next((r for r in reversed(rows) if any(k.startswith("val_") for k in r)), None)
    if row is None:
        row = {
            k: float(v)
            for k, v in cli.trainer.callback_metrics.items()
            if getattr(v, "numel", lambda: 1)() == 1
        }
    return {k: float(v) for k, v in sorted(row.items()) if k.startswith("val_") and not k.endswith("_step")}


def _summary(results: list[dict[str, float]]) -> tuple[list[str], dict[str, float], dict[str, float]]:
    names = sorted({k for r in results for k in r})
    mean, std = {}, {}
    for name in names:
        values = [r[name] for r in results if name in r and math.isfinite(r[name])]
        mean[name] = statistics.fmean(values) if values else math.nan
        std[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    return names, mean, std


def _write_json(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _write_metrics_csv(
    path: Path, runs: list[dict[str, Any]], names: list[str], mean: dict, std: dict
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fold", "run", *names])
        for run in runs:
            writer.writerow([run["fold"], run["run"], *(run["metrics"].get(n, "") for n in names)])
        writer.writerow(["mean", "", *(mean[n] for n in names)])
        writer.writerow(["std", "", *(std[n] for n in names)])


def _print_table(parent: Path, runs: list[dict[str, Any]], names: list[str], mean: dict, std: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"cross-validation: {len(runs)} folds ({parent})", title_justify="left", header_style="bold"
    )
    table.add_column("fold")
    for name in names:
        table.add_column(name, justify="right")
    for run in runs:
        table.add_row(
            str(run["fold"]), *(f"{run['metrics'][n]:.4f}" if n in run["metrics"] else "-" for n in names)
        )
    table.add_section()
    table.add_row("mean ± std", *(f"{mean[n]:.4f} ± {std[n]:.4f}" for n in names), style="bold")
    console = (
        Console(highlight=False)
        if sys.stdout.isatty()
        else Console(width=200, color_system=None, highlight=False)
    )
    console.print(table)


def fit_folds(args: list[str], options: CVOptions) -> int:
    """Train one run per fold under one parent directory, then report and record the metrics."""
    from lightkit.tracking import child_runs  # with --tracking: the folds are child runs of one run (#17)

    with child_runs(tags={"lightkit.kind": "cross-validation"}) as tracked:
        return _fit_folds(args, options, tracked)


def _fit_folds(args: list[str], options: CVOptions, tracked: Any) -> int:
    from lightkit.cli.lightkit_cli import command_options

    fold_cli = _fold_cli()
    parent: Path | None = None
    runs: list[dict[str, Any]] = []
    record: dict[str, Any] = {
        "folds": options.folds,
        "seed": options.seed,
        "command": ["lightkit", "fit", *args, f"--cv.folds={options.folds}", f"--cv.seed={options.seed}"],
        "started": datetime.now().isoformat(timespec="seconds"),
        "state": "running",
        "runs": runs,
    }
    try:
        for index in range(options.folds):
            print(f"cross-validation: fold {index + 1} of {options.folds}", file=sys.stderr)
            cli = fold_cli(index, options, parent, args=["fit", *args], **command_options())
            parent = cli.parent
            runs.append({"fold": index + 1, "run": cli.run_dir.name if cli.run_dir else None,
                         "metrics": _fold_metrics(cli)})  # fmt: skip
            _write_json(parent / CV_FILE, record)
    except BaseException as err:
        if parent is not None and parent.is_dir():
            record["state"] = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            _write_json(parent / CV_FILE, record)
        raise
    assert parent is not None
    names, mean, std = _summary([r["metrics"] for r in runs])
    record.update(state="finished", ended=datetime.now().isoformat(timespec="seconds"), mean=mean, std=std)
    record["std_note"] = "sample standard deviation over folds (n - 1 in the denominator)"
    _write_json(parent / CV_FILE, record)
    _write_metrics_csv(parent / METRICS_FILE, runs, names, mean, std)
    tracked.log_metrics({f"{n}_{k}": v[n] for k, v in (("mean", mean), ("std", std)) for n in names if math.isfinite(v[n])})
    _print_table(parent, runs, names, mean, std)
    from lightkit.cli.fit_report import relative

    where = shlex.quote(relative(parent))
    print(
        f"cross-validation directory: {relative(parent)} ({CV_FILE}, {METRICS_FILE})\n"
        f"next:\n  lightkit predict --ckpt_path {where}   # the average of the {len(runs)} fold models\n"
        f"  lightkit runs list {where}",
        file=sys.stderr,
    )
    return 0


# -- predict ---------------------------------------------------------------------------------------
def _collect_cli() -> type:
    from lightkit.cli.lightkit_cli import LightkitCLI

    class CollectCLI(LightkitCLI):
        """Predicts like ``lightkit predict`` and keeps the predictions for averaging."""

        def after_predict(self) -> None:
            import torch

            batches = self.trainer.predict_loop.predictions
            if batches and isinstance(batches[0], list):
                batches = batches[0]
            self.collected = torch.cat([torch.as_tensor(b).reshape(len(b), -1) for b in batches]).double()

    return CollectCLI


def predict_folds(args: list[str]) -> int:
    """Predict with every fold's best checkpoint and write the average to one CSV."""
    import torch

    from lightkit.cli.lightkit_cli import command_options

    parent = Path(str(flag_value(args, "--ckpt_path")))
    record = json.loads((parent / CV_FILE).read_text())
    folds = [parent / r["run"] for r in record.get("runs", []) if r.get("run")]
    missing = [str(f) for f in folds if not f.is_dir()]
    if not folds or missing:
        raise UsageError(
            f"cross-validation {str(parent)!r} has no complete fold runs"
            + (f" ({missing[0]} is gone)" if missing else ""),
            "train it again with `lightkit fit ... --cv.folds K`.",
        )
    output = Path(flag_value(args, "--run.output") or parent / "predictions.csv")
    from lightkit.cli.outputs import argv_inputs
    from lightkit.files import atomic_writer, check_output

    given = flag_value(args, "--run.output")
    flag = "--run.output" if given else "the prediction file (--run.output's default)"
    inputs = {**argv_inputs(args), str(parent / CV_FILE): "--ckpt_path"}
    check_output(output, flag, inputs, run_dir=parent)  # before any fold predicts (lightkit.files)
    base = _without(args, "--ckpt_path", "--run.output")
    collect_cli = _collect_cli()
    outputs, ids = [], None
    for fold in folds:
        cli = collect_cli(
            args=["predict", *base, "--ckpt_path", str(fold), "--run.output", str(fold / "predictions.csv")],
            **command_options(),
        )
        fold_ids = list(getattr(cli.datamodule, "predict_ids", []) or [])
        if ids is not None and fold_ids != ids:
            raise ConfigError(
                f"fold {fold.name} predicted other rows than the first fold",
                "the data module's predict rows must not depend on the fold (see the fold protocol).",
            )
        ids = fold_ids
        outputs.append(cli.collected)
    if len({tuple(o.shape) for o in outputs}) > 1:
        raise ConfigError(
            "the fold models' predictions have different shapes", "were the folds trained on the same data?"
        )
    mean = torch.stack(outputs).mean(dim=0)
    describe = getattr(cli.datamodule, "describe_predictions", None)
    if callable(describe):
        columns = describe(mean)
    else:
        columns = {"row": list(range(len(mean)))} | {
            f"pred_{i}": mean[:, i].tolist() for i in range(mean.shape[1])
        }
    with atomic_writer(output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        writer.writerows(zip(*columns.values(), strict=True))
    print(f"averaged predictions of {len(folds)} fold models written to {output}", file=sys.stderr)
    return 0
