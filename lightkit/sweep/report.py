"""What a sweep found: a summary table, PNG plots, a trials CSV, and the best trial's config."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from lightkit.errors import UsageError
from lightkit.runs.layout import RUNS_ROOT

__all__ = ["PLOTS", "export_best", "print_summary", "save_plots", "write_trials_csv"]

#: file name -> function of optuna.visualization.matplotlib that draws it
PLOTS: dict[str, str] = {
    "optimization_history.png": "plot_optimization_history",
    "param_importances.png": "plot_param_importances",
    "parallel_coordinate.png": "plot_parallel_coordinate",
    "intermediate_values.png": "plot_intermediate_values",
}
_MAX_ROWS = 40


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _duration(trial: FrozenTrial) -> str:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return "-"
    return f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.0f} s"


def _state(trial: FrozenTrial) -> str:
    name = trial.state.name.lower()
    if trial.state == TrialState.FAIL:
        error = str(trial.user_attrs.get("error", "")).splitlines()
        reason = error[0].removeprefix("error: ")[:60] if error else ""
        return f"failed: {reason}" if reason else "failed"
    if trial.state == TrialState.WAITING and "failed_trial" in trial.system_attrs:
        return f"queued (retry of {trial.system_attrs['failed_trial']})"
    return {"complete": "complete", "pruned": "pruned", "running": "running", "waiting": "queued"}.get(
        name, name
    )


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best finished trial, or ``None`` when no trial has finished."""
    try:
        return study.best_trial
    except ValueError:
        return None


def print_summary(study: optuna.Study, where: str, console: Any = None) -> None:
    """Print the study's best value and parameters, its trials by state, and a table of trials.

    Args:
        study: The study.
        where: Where the study is stored, shown in the title.
        console: A ``rich.console.Console``; by default one on stdout.
    """
    from rich.console import Console
    from rich.table import Table

    from lightkit.sweep.runner import short_names

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=max(console.width, 140))
    trials = study.get_trials(deepcopy=False)
    metric = study.user_attrs.get("metric", "value")
    direction = study.direction.name.lower()
    counts: dict[str, int] = {}
    for trial in trials:
        key = {
            "complete": "complete",
            "pruned": "pruned",
            "fail": "failed",
            "running": "running",
            "waiting": "queued",
        }
        name = key.get(trial.state.name.lower(), trial.state.name.lower())
        counts[name] = counts.get(name, 0) + 1
    names = sorted(
        {p for t in trials for p in t.params},
        key=lambda n: next((i for t in trials for i, k in enumerate(t.params) if k == n), 0),
    )
    short = short_names(names)
    best = best_trial(study)
    console.print(f"[bold]study {study.study_name}[/bold]  ({where})")
    console.print(f"{metric}, {direction}; trials: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if best is not None:
        params = ", ".join(f"{short[k]}={_fmt(v)}" for k, v in best.params.items())
        console.print(f"best: trial {best.number}, {metric}={_fmt(best.value)}; {params}")
        if best.user_attrs.get("run_dir"):
            console.print(f"best run: {best.user_attrs['run_dir']}")
    else:
        console.print("best: no trial has finished yet")
    shown = trials
    if len(trials) > _MAX_ROWS:
        finished = sorted(
            (t for t in trials if t.state == TrialState.COMPLETE and t.value is not None),
            key=lambda t: t.value if direction == "minimize" else -t.value,
        )
        shown = sorted(finished[: _MAX_ROWS // 2], key=lambda t: t.number)
    table = Table(title=None if shown is trials else f"best {len(shown)} of {len(trials)} trials")
    table.add_column("#", justify="right")
    table.add_column("state")
    table.add_column(metric, justify="right")
    for name in names:
        table.add_column(short[name], justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("time", justify="right")
    for trial in shown:
        value = (
            trial.value
            if trial.state == TrialState.COMPLETE
            else (
                trial.intermediate_values[max(trial.intermediate_values)]
                if trial.intermediate_values
                else None
            )
        )
        style = "bold green" if best is not None and trial.number == best.number else None
        table.add_row(
            str(trial.number),
            _state(trial),
            _fmt(value),
            *(_fmt(trial.params.get(n)) for n in names),
            _fmt(len(trial.intermediate_values) or None),
            _duration(trial),
            style=style,
        )
    console.print(table)


def save_plots(study: optuna.Study, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Save the PNG plots of :data:`PLOTS` into ``out_dir``.

    Returns:
        The files written, and a note for each plot that could not be drawn (too few trials).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: list[str] = []
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    for filename, function in PLOTS.items():
        if complete < (2 if function == "plot_param_importances" else 1):
            skipped.append(f"{filename}: needs {'two finished trials' if complete else 'a finished trial'}")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = getattr(plots, function)(study)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
            with _replacing(out_dir / filename) as tmp:
                figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
            plt.close(figure)
            written.append(out_dir / filename)
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as err:
            skipped.append(f"{filename}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
        finally:
            plt.close("all")
    return written, skipped


def write_trials_csv(study: optuna.Study, path: Path) -> Path:
    """Every trial as one CSV row: number, state, value, parameters, timing, run directory."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "params", "duration", "user_attrs"))
    if "user_attrs_worker" in frame.columns:  # {"host", "pid", ...} -> host:pid
        frame["user_attrs_worker"] = [
            f"{w.get('host')}:{w.get('pid')}" if isinstance(w, dict) else w
            for w in frame["user_attrs_worker"]
        ]
    frame = frame.drop(columns=[c for c in frame.columns if c == "user_attrs_config"])
    with _replacing(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces ``path`` at the end.

    Workers that share a sweep directory then each write whole files, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_best(study: optuna.Study, path: Path) -> FrozenTrial:
    """Write the best trial's full resolved config to ``path``; ``lightkit fit --config path`` reruns it.

    The run name and ``trainer.default_root_dir`` are reset, so the rerun gets a fresh run
    directory under ``runs/`` rather than the trial's own.

    Raises:
        UsageError: No trial has finished, or the best trial's config was not recorded.
    """
    best = best_trial(study)
    if best is None:
        raise UsageError(
            f"no finished trial in study {study.study_name!r} to export",
            "run the sweep until a trial completes (pruned and failed trials have no final value).",
        )
    text = best.user_attrs.get("config")
    if not text and best.user_attrs.get("run_dir"):
        candidate = Path(best.user_attrs["run_dir"]) / "config.yaml"
        text = candidate.read_text() if candidate.is_file() else None
    if not text:
        raise UsageError(
            f"trial {best.number} of study {study.study_name!r} has no recorded config to export"
        )
    config = yaml.safe_load(text) or {}
    if isinstance(config.get("run"), dict):
        config["run"] = {k: v for k, v in config["run"].items() if k != "root"} | {"name": None}
    if isinstance(config.get("trainer"), dict):
        config["trainer"] = {**config["trainer"], "default_root_dir": RUNS_ROOT}
    metric = study.user_attrs.get("metric", "value")
    header = (
        f"# Best trial {best.number} of sweep {study.study_name!r}: {metric}={best.value:.6g}\n"
        f"# values: {', '.join(f'{k}={v}' for k, v in best.params.items())}\n"
        f"# Rerun: lightkit fit --config {path}\n"
    )
    from lightkit.files import atomic_write

    atomic_write(path, header + yaml.safe_dump(config, sort_keys=False))
    return best
