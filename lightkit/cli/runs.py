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
import csv
import json
import math
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from lightkit.errors import UsageError
from lightkit.registry import suggest

__all__ = [
    "STATE_FILE",
    "RunInfo",
    "best_row",
    "find_runs",
    "main",
    "metric_series",
    "read_metrics",
    "read_state",
    "run_info",
    "write_state",
]

#: the run-state record inside a run directory
STATE_FILE = "state.json"
#: the record a cross-validation parent directory holds (see :mod:`lightkit.cv`)
CV_FILE = "cv.json"
_RUNS_ROOT = "runs"


# -- the run-state record --------------------------------------------------------------------------
def write_state(run_dir: Path, state: str, **fields: Any) -> Path:
    """Record ``state`` (``running``, ``finished``, ``failed``, ``interrupted``) in ``run_dir/state.json``.

    ``running`` starts a new record (process id, host, start time); the other states keep it and
    add the end time. Extra ``fields`` (``monitor``, ``mode``, ``best_score``, ``error``) are merged in.
    """
    path = Path(run_dir) / STATE_FILE
    now = time.time()
    record = {} if state == "running" else read_state(run_dir)
    if state == "running":
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": now}
    else:
        record["ended"] = now
    record.update(state=state, **fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_state(run_dir: Path) -> dict[str, Any]:
    """The run's ``state.json``, or ``{}``."""
    return _read_json(Path(run_dir) / STATE_FILE)


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


# -- metrics.csv -----------------------------------------------------------------------------------
def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """Rows of the run's ``metrics.csv`` with the empty cells left out, values as floats."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as handle:
        for raw in csv.DictReader(handle):
            row = {}
            for key, value in raw.items():
                if key and value not in (None, ""):
                    try:
                        row[key] = float(value)
                    except ValueError:
                        continue
            rows.append(row)
    return rows


def metric_names(rows: list[dict[str, float]]) -> list[str]:
    """Metric names a user can ask for: ``*_epoch`` without the suffix, ``*_step`` series left out."""
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key in ("epoch", "step") or key.endswith("_step"):
                continue
            names[key.removesuffix("_epoch")] = None
    return sorted(names)


def metric_series(rows: list[dict[str, float]], metric: str) -> tuple[list[int], list[float]]:
    """One value of ``metric`` per epoch (the last logged), epochs counted from 1."""
    column = metric if any(metric in r for r in rows) else f"{metric}_epoch"
    by_epoch: dict[int, float] = {}
    for row in rows:
        if column in row and "epoch" in row:
            by_epoch[int(row["epoch"]) + 1] = row[column]
    epochs = sorted(by_epoch)
    return epochs, [by_epoch[e] for e in epochs]


def best_row(rows: list[dict[str, float]], monitor: str, mode: str = "min") -> dict[str, float] | None:
    """The first row holding the best value of ``monitor`` (what the best checkpoint was saved at)."""
    candidates = [r for r in rows if monitor in r and math.isfinite(r[monitor])]
    if not candidates:
        return None
    pick = min if mode == "min" else max
    best = pick(r[monitor] for r in candidates)
    return next(r for r in candidates if r[monitor] == best)


# -- run directories -------------------------------------------------------------------------------
def _is_run(path: Path) -> bool:
    return any((path / name).exists() for name in ("config.yaml", "versions.json", STATE_FILE, "metrics.csv"))


def find_runs(root: Path) -> list[Path]:
    """Run directories in ``root`` (or ``root`` itself), with the fold runs of cross-validation parents."""
    root = Path(root)
    if _is_run(root):
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if _is_run(child):
            found.append(child)
        elif (child / CV_FILE).is_file():
            found.extend(sorted((p for p in child.iterdir() if p.is_dir() and _is_run(p)), key=_natural))
    return found


def _natural(path: Path) -> list[Any]:
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _component(config: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    """Short class name and init args of ``model`` or ``data`` in a resolved config."""
    value = config.get(key)
    if not isinstance(value, dict):
        return "-", {}
    if "class_path" in value:
        return str(value["class_path"]).rsplit(".", 1)[-1], dict(value.get("init_args") or {})
    return "-", dict(value)


@dataclass
class RunInfo:
    """What ``runs list`` shows about one run directory."""

    name: str
    path: str
    model: str
    data: str
    started: str | None
    duration_s: float | None
    state: str
    monitor: str | None
    mode: str | None
    best: float | None
    best_epoch: int | None
    epochs: int
    extra: dict[str, Any] = field(default_factory=dict)


def _state_of(
    run: Path, state: dict[str, Any], versions: dict[str, Any], config: dict[str, Any], epochs: int
) -> str:
    recorded = state.get("state")
    pid = state.get("pid", versions.get("pid"))
    local = state.get("host") in (None, socket.gethostname())
    if recorded in ("finished", "failed", "interrupted"):
        return recorded
    if recorded == "running":
        return "running" if not local or _pid_alive(pid) else "interrupted"
    # no record (a run from before state.json existed): infer from what is there
    if local and isinstance(pid, int) and pid > 1 and _pid_alive(pid):
        return "running"
    max_epochs = (config.get("trainer") or {}).get("max_epochs")
    if (run / "checkpoints" / "last.ckpt").is_file() and (
        max_epochs in (None, -1) or epochs >= int(max_epochs)
    ):
        return "finished"
    return "interrupted" if (run / "checkpoints").is_dir() else "unknown"


def _data_label(config: dict[str, Any]) -> str:
    name, args = _component(config, "data")
    detail = args.get("dataset") or (Path(str(args["path"])).name if args.get("path") else None)
    return f"{name}({detail})" if detail else name


def run_info(run: Path, root: Path | None = None) -> RunInfo:
    """Read one run directory; missing files leave fields empty rather than failing."""
    run = Path(run)
    config = _load_yaml(run / "config.yaml")
    versions = _read_json(run / "versions.json")
    state = read_state(run)
    rows = read_metrics(run)
    epochs = max((int(r["epoch"]) + 1 for r in rows if "epoch" in r), default=0)
    start = state.get("started") or versions.get("unix_time")
    if start is None and (run / "config.yaml").exists():
        start = (run / "config.yaml").stat().st_mtime
    status = _state_of(run, state, versions, config, epochs)
    end = state.get("ended")
    if end is None and status == "running":
        end = time.time()
    if end is None:
        files = [p for p in (run / "metrics.csv", run / "checkpoints" / "last.ckpt") if p.exists()]
        end = max((p.stat().st_mtime for p in files), default=None)
    monitor = state.get("monitor") or ("val_loss" if any("val_loss" in r for r in rows) else None)
    mode = state.get("mode") or "min"
    best = best_row(rows, monitor, mode) if monitor else None
    best_value = best[monitor] if best else state.get("best_score")
    name = (
        str(run.relative_to(root))
        if root is not None and run != root and run.is_relative_to(root)
        else run.name
    )
    return RunInfo(
        name=name,
        path=str(run),
        model=_component(config, "model")[0],
        data=_data_label(config),
        started=datetime.fromtimestamp(start).isoformat(sep=" ", timespec="seconds") if start else None,
        duration_s=round(end - start, 1) if start and end and end >= start else None,
        state=status,
        monitor=monitor,
        mode=mode if monitor else None,
        best=best_value,
        best_epoch=int(best["epoch"]) + 1 if best and "epoch" in best else None,
        epochs=epochs,
        extra={"error": state["error"]} if state.get("error") else {},
    )


def _resolve_run(value: str, root: str) -> Path:
    path = Path(value)
    if path.is_dir():
        return path
    if (Path(root) / value).is_dir():
        return Path(root) / value
    names = [str(p.relative_to(root)) for p in find_runs(Path(root))] if Path(root).is_dir() else []
    close = suggest(value, names)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UsageError(
        f"run {value!r} not found (neither a directory nor a run under {root!r})",
        hint + "give a run directory, or a name from `lightkit runs list`.",
    )


# -- output ----------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} ({self.prog})", f"see `{self.prog} --help`.")


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


_STATE_STYLE = {"finished": "green", "running": "cyan", "failed": "red", "interrupted": "yellow"}


# -- list ------------------------------------------------------------------------------------------
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

    table = _table("name", "model", "data", "started", "duration", "state", "best", title=f"runs in {root}")
    for info in infos:
        best = f"{info.monitor}={_number(info.best)}" if info.monitor and info.best is not None else "-"
        if info.best_epoch:
            best += f" (epoch {info.best_epoch})"
        table.add_row(
            Text(info.name),
            info.model,
            Text(info.data),
            info.started or "-",
            _duration(info.duration_s),
            Text(info.state, style=_STATE_STYLE.get(info.state, "")),
            best,
        )
    _print(table)
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
    config = _load_yaml(run / "config.yaml")
    versions = _read_json(run / "versions.json")
    rows = read_metrics(run)
    settings: list[tuple[str, Any]] = []
    for key in ("model", "data"):
        name, args = _component(config, key)
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
    if info.extra.get("error"):
        head.add_row("error", Text(str(info.extra["error"])))
    head.add_row("started", info.started or "-")
    head.add_row("duration", _duration(info.duration_s))
    head.add_row("epochs", str(info.epochs))
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
    parts = [head, config_table, version_table, metric_table]
    if checkpoints:
        parts.append(ckpt_table)
    if files:
        parts.append(Text("files: " + ", ".join(files)))
    _print(*[item for part in parts for item in (part, Text(""))][:-1])
    return 0


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
        close = suggest(metric, sorted(available))
        hint = f"did you mean {close[0]!r}? " if close else ""
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"plot written to {path}")
    return 0


# -- command line ----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lightkit runs", description="List, show and plot run directories (reads files only)."
    )
    sub = parser.add_subparsers(dest="action", metavar="{list,show,plot}", parser_class=_Parser)
    listing = sub.add_parser("list", help="Table of runs: model, data, start, duration, state, best metric.")
    listing.add_argument("dir", nargs="?", default=_RUNS_ROOT, help="Directory that holds run directories.")
    listing.add_argument("--json", action="store_true", help="JSON for scripts instead of a table.")
    show = sub.add_parser("show", help="A run's key config values, versions and final metrics.")
    show.add_argument("run", help="Run directory, or a run name under --root.")
    show.add_argument("--root", default=_RUNS_ROOT, help="Where run names are looked up.")
    show.add_argument("--json", action="store_true", help="JSON for scripts.")
    plot = sub.add_parser("plot", help="PNG of one metric over epochs, one line per run.")
    plot.add_argument("runs", nargs="+", metavar="run", help="Run directories, or run names under --root.")
    plot.add_argument("--metric", default="val_loss", help="Metric to plot (a column of metrics.csv).")
    plot.add_argument("--output", help="PNG path; by default plot-<metric>.png in the first run directory.")
    plot.add_argument("--root", default=_RUNS_ROOT, help="Where run names are looked up.")
    return parser


_ACTIONS = ("list", "show", "plot")


def main(argv: list[str]) -> int:
    """Run ``lightkit runs ARGV``; returns the exit code."""
    argv = list(argv) or ["list"]
    if not argv[0].startswith("-") and argv[0] not in _ACTIONS:
        close = suggest(argv[0], list(_ACTIONS))
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"unknown runs command {argv[0]!r}", hint + f"commands are: {', '.join(_ACTIONS)}.")
    args = _parser().parse_args(argv)
    if args.action == "list":
        return _list(args.dir, args.json)
    if args.action == "show":
        return _show(args.run, args.root, args.json)
    return _plot(args.runs, args.metric, args.root, args.output)
