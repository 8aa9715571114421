"""``lightkit runs``: list, show and plot run directories, without TensorBoard and without torch.

Everything here is read from the files a run directory holds (see :mod:`lightkit.runs`):
``config.yaml``, ``versions.json``, ``metrics.csv``, ``state.json`` and the names and times of
the checkpoint files. ``state.json`` is written by the run itself (``running``, then ``finished``,
``failed`` or ``interrupted``); a run still marked ``running`` whose process is gone was killed,
and is shown as ``interrupted``. Plots are drawn with matplotlib's ``Figure`` (Agg canvas), so no
display is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from lightkit.cli.command_parser import CommandParser
from lightkit.errors import UsageError
from lightkit.registry import did_you_mean
from lightkit.runs import (
    RUNS_ROOT,
    STATE_FILE,
    find_runs,
    metric_names,
    metric_series,
    read_metrics,
    run_info,
)
from lightkit.runs.discovery import component, load_yaml
from lightkit.runs.record import read_json

__all__ = ["main"]


def _resolve_run(value: str, root: str) -> Path:
    path = Path(value)
    if path.is_dir():
        return path
    if (Path(root) / value).is_dir():
        return Path(root) / value
    names = [str(p.relative_to(root)) for p in find_runs(Path(root))] if Path(root).is_dir() else []
    hint = did_you_mean(value, names)
    raise UsageError(
        f"run {value!r} not found (neither a directory nor a run under {root!r})",
        hint + "give a run directory, or a name from `lightkit runs list`.",
    )


# -- output ----------------------------------------------------------------------------------------


def _print(*renderables: Any) -> None:
    """Rich output on a terminal; whole lines without colour when piped."""
    from rich.console import Console

    if sys.stdout.isatty():
        console = Console(highlight=False)
        for renderable in renderables:
            console.print(renderable)
        return
    plain = Console(width=1000, color_system=None, highlight=False)
    with plain.capture() as capture:
        for renderable in renderables:
            plain.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in capture.get().splitlines()))


def _table(*columns: str, title: str | None = None, header: bool = True) -> Any:
    from rich.table import Table

    table = Table(
        title=title, title_justify="left", box=None, header_style="bold", pad_edge=False, show_header=header
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


_STATE_STYLE = {
    "finished": "green", "running": "cyan", "failed": "red", "interrupted": "yellow", "damaged": "red",
}  # fmt: skip


def _say_damaged(infos: list[Any]) -> None:
    """One line per damaged record (lightkit.runs.damage): by path, with what is wrong."""
    for info in infos:
        for path, why in info.damaged.items():
            print(f"warning: damaged record {path}: {why}; nothing was read from it", file=sys.stderr)


# -- list ------------------------------------------------------------------------------------------
def _tracking_where(info: Any) -> str:
    """``mlflow sqlite:///runs/mlflow.db``: the tracker and where it logged, without passwords."""
    from lightkit.tracking.record import shown_uri

    if not info.tracking:
        return "-"
    return f"{info.tracking} {shown_uri(info.tracking_uri) or ''}".strip()


def _list(root: str, as_json: bool) -> int:
    base = Path(root)
    if not base.is_dir():
        raise UsageError(
            f"no run directory {root!r}",
            "train with `lightkit fit` first, or pass the directory that holds the runs.",
        )
    infos = sorted((run_info(r, base) for r in find_runs(base)), key=lambda i: (i.started or "", i.name))
    if as_json:
        print(json.dumps([asdict(i) for i in infos], indent=2))
        return 0
    if not infos:
        print(f"no runs in {root}", file=sys.stderr)
        return 0
    from rich.text import Text

    tracked = any(info.tracking for info in infos)  # tracking columns only where some run was tracked
    columns = ("name", "model", "data", "started", "duration", "state", "best")
    table = _table(*columns, *(("tracking", "tracker run") if tracked else ()), title=f"runs in {root}")
    for info in infos:
        best = f"{info.monitor}={_number(info.best)}" if info.monitor and info.best is not None else "-"
        if info.best_epoch:
            best += f" (epoch {info.best_epoch})"
        table.add_row(
            Text(info.name),
            info.model,
            Text(info.data),
            info.started or "-",
            _duration(info.duration_s) + (f" ({info.parts} parts)" if info.parts > 1 else ""),
            Text(info.state, style=_STATE_STYLE.get(info.state, "")),
            best,
            *((Text(_tracking_where(info)), Text(info.tracking_run_id or "-")) if tracked else ()),
        )
    _print(table)
    _say_damaged(infos)
    return 0


# -- show ------------------------------------------------------------------------------------------
_TRAINER_KEYS = (
    "max_epochs", "max_steps", "max_time", "accelerator", "devices", "precision", "gradient_clip_val",
    "accumulate_grad_batches", "overfit_batches", "limit_train_batches", "profiler", "deterministic",
)  # fmt: skip


def _flat(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [item for key, sub in value.items() for item in _flat(f"{prefix}.{key}", sub)]
    return [(prefix, value)]


def _show(value: str, root: str, as_json: bool) -> int:
    run = _resolve_run(value, root)
    info = run_info(run)
    config = load_yaml(run / "config.yaml")
    versions = read_json(run / "versions.json")
    rows = [] if str(run / "metrics.csv") in info.damaged else read_metrics(run)
    settings: list[tuple[str, Any]] = []
    for key in ("model", "data"):
        name, args = component(config, key)
        settings.append((key, name))
        settings += [(f"{key}.{k}", v) for k, v in args.items() if v is not None]
    trainer = config.get("trainer") or {}
    settings += [(f"trainer.{k}", trainer[k]) for k in _TRAINER_KEYS if trainer.get(k) is not None]
    for key in ("optimizer", "lr_scheduler"):
        if config.get(key):
            settings += _flat(key, config[key])
    if config.get("seed_everything") is not None:
        settings.append(("seed_everything", config["seed_everything"]))
    final = {
        name: metric_series(rows, name)[1][-1] for name in metric_names(rows) if metric_series(rows, name)[1]
    }
    ckpt_dir = run / "checkpoints"
    checkpoints = [
        {"file": p.name, "size_kb": round(p.stat().st_size / 1024, 1),
         "modified": datetime.fromtimestamp(p.stat().st_mtime).isoformat(sep=" ", timespec="seconds")}
        for p in sorted(ckpt_dir.glob("*.ckpt"))
    ] if ckpt_dir.is_dir() else []  # fmt: skip
    files = sorted(
        p.name
        for p in run.iterdir()
        if p.is_file() and p.suffix in (".txt", ".png", ".csv", ".json") and p.name != STATE_FILE
    )
    wanted_versions = ("python", "torch", "lightning", "lightkit", "plugins", "git_commit", "seed", "command")
    record = {
        **asdict(info),
        "config": dict(settings),
        "versions": {k: versions[k] for k in wanted_versions if k in versions},
        "final_metrics": final,
        "checkpoints": checkpoints,
        "files": files,
    }
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return 0
    from rich.text import Text

    head = _table("", "", header=False)
    head.add_row("run", Text(str(run)))
    head.add_row("state", Text(info.state, style=_STATE_STYLE.get(info.state, "")))
    for path, why in info.damaged.items():
        head.add_row("damaged", Text(f"{path}: {why}"))
    if info.extra.get("error"):
        head.add_row("error", Text(str(info.extra["error"])))
    head.add_row("started", info.started or "-")
    resumed = f" of training, in {info.parts} parts (resumed {info.parts - 1}x)" if info.parts > 1 else ""
    head.add_row("duration", _duration(info.duration_s) + resumed)
    head.add_row("epochs", str(info.epochs))
    if info.tracking:
        head.add_row("tracking", Text(_tracking_where(info)))
        head.add_row("tracker run", Text(info.tracking_run_id or "-"))
    if info.monitor:
        head.add_row(
            "best",
            f"{info.monitor}={_number(info.best)}"
            + (f" (epoch {info.best_epoch})" if info.best_epoch else ""),
        )
    config_table = _table("setting", "value", title="config")
    for key, val in settings:
        config_table.add_row(key, Text(json.dumps(val) if not isinstance(val, str) else val))
    version_table = _table("package", "version", title="versions")
    for key, val in record["versions"].items():
        shown = " ".join(val) if key == "command" else json.dumps(val) if isinstance(val, dict) else str(val)
        version_table.add_row(key, Text(shown))
    metric_table = _table("metric", "last value", title="final metrics")
    for key, val in final.items():
        metric_table.add_row(key, _number(val))
    ckpt_table = _table("checkpoint", "size", "modified", title="checkpoints")
    for ckpt in checkpoints:
        ckpt_table.add_row(ckpt["file"], f"{ckpt['size_kb']} KB", ckpt["modified"])
    parts = [head, config_table, version_table, metric_table if final else Text(_no_metrics(run, trainer))]
    if checkpoints:
        parts.append(ckpt_table)
    if files:
        parts.append(Text("files: " + ", ".join(files)))
    _print(*[item for part in parts for item in (part, Text(""))][:-1])
    return 0


def _no_metrics(run: Path, trainer: dict[str, Any]) -> str:
    """What ``runs show`` says instead of an empty metrics table."""
    if (run / "metrics.csv").is_file():
        return "no metrics: metrics.csv holds no values yet"
    why = " (trained with trainer.logger: false)" if trainer.get("logger") is False else ""
    return f"no metrics: the run has no metrics.csv{why}"


# -- plot ------------------------------------------------------------------------------------------
def _plot(values: list[str], metric: str, root: str, output: str | None) -> int:
    runs = [_resolve_run(v, root) for v in values]
    series = []
    available: set[str] = set()
    for run in runs:
        rows = read_metrics(run)
        available.update(metric_names(rows))
        epochs, points = metric_series(rows, metric)
        if points:
            series.append((run, epochs, points))
    if not series:
        hint = did_you_mean(metric, sorted(available))
        raise UsageError(
            f"metric {metric!r} (from --metric) is in none of the runs' metrics.csv",
            hint
            + (f"metrics there: {', '.join(sorted(available))}." if available else "no run has metrics yet."),
        )
    for run in sorted(set(runs) - {run for run, _, _ in series}):
        print(f"warning: {run} has no {metric!r} values; left out of the plot", file=sys.stderr)
    names = [r.name for r in runs]
    labels = {
        run: (run.name if names.count(run.name) == 1 else f"{run.parent.name}/{run.name}") for run in runs
    }
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    fig = Figure(figsize=(8, 5), dpi=110, layout="constrained")
    ax = fig.subplots()
    for run, epochs, points in series:
        ax.plot(epochs, points, marker="o" if len(points) < 30 else None, markersize=3, label=labels[run])
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if all(len(e) > 0 for _, e, _ in series) and max(max(e) for _, e, _ in series) <= 20:
        ax.xaxis.get_major_locator().set_params(integer=True)
    path = Path(output) if output else runs[0] / f"plot-{metric}.png"
    from lightkit.files import atomic_writer, check_output

    flag = "--output" if output else "the plot (--output's default)"
    check_output(path, flag, run_dir=None if output else runs[0])  # never a record or checkpoint
    with atomic_writer(path) as handle:
        fig.savefig(handle, format="png")
    print(f"plot written to {path}")
    return 0


# -- command line ----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="lightkit runs", description="List, show and plot run directories (reads files only)."
    )
    sub = parser.add_subparsers(dest="action", metavar="{list,show,plot}", parser_class=CommandParser)
    listing = sub.add_parser("list", help="Table of runs: model, data, start, duration, state, best metric.")
    listing.add_argument("dir", nargs="?", default=RUNS_ROOT, help="Directory that holds run directories.")
    listing.add_argument("--json", action="store_true", help="JSON for scripts instead of a table.")
    show = sub.add_parser("show", help="A run's key config values, versions and final metrics.")
    show.add_argument("run", help="Run directory, or a run name under --root.")
    show.add_argument("--root", default=RUNS_ROOT, help="Where run names are looked up.")
    show.add_argument("--json", action="store_true", help="JSON for scripts.")
    plot = sub.add_parser("plot", help="PNG of one metric over epochs, one line per run.")
    plot.add_argument("runs", nargs="+", metavar="run", help="Run directories, or run names under --root.")
    plot.add_argument("--metric", default="val_loss", help="Metric to plot (a column of metrics.csv).")
    plot.add_argument("--output", help="PNG path; by default plot-<metric>.png in the first run directory.")
    plot.add_argument("--root", default=RUNS_ROOT, help="Where run names are looked up.")
    return parser


_ACTIONS = ("list", "show", "plot")


def main(argv: list[str]) -> int:
    """Run ``lightkit runs ARGV``; returns the exit code."""
    argv = list(argv) or ["list"]
    if not argv[0].startswith("-") and argv[0] not in _ACTIONS:
        hint = did_you_mean(argv[0], list(_ACTIONS))
        raise UsageError(f"unknown runs command {argv[0]!r}", hint + f"commands are: {', '.join(_ACTIONS)}.")
    args = _parser().parse_args(argv)
    if args.action == "list":
        return _list(args.dir, args.json)
    if args.action == "show":
        return _show(args.run, args.root, args.json)
    return _plot(args.runs, args.metric, args.root, args.output)
