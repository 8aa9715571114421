"""The outputs of a benchmark run: the machine description, the console table, results.json and
the generated section of docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.targets import Row

__all__ = [
    "BEGIN",
    "END",
    "code_state",
    "console_table",
    "machine",
    "markdown_section",
    "update_docs",
    "write_results",
]

BEGIN = "<!-- benchmark-results:begin (written by benchmarks/run.py; edits here are overwritten) -->"
END = "<!-- benchmark-results:end -->"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def code_state(repo: Path) -> dict[str, Any]:
    """The commit measured and the tracked files that differed from it (the working tree is measured)."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.rstrip("\n") if out.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or None, "modified": changed}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            d: _version(d) for d in ("torch", "lightning", "jsonargparse", "torchmetrics", "lightkit")
        },
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "us/row":
        return f"{value * 1e6:.2f} µs/row"
    if value < 0.1:
        return f"{value * 1000:.2f} ms"
    return f"{value:.3f} s" if value < 10 else f"{value:.2f} s"


def _met(met: bool | None, met_cpu: bool | None, ratio: float | None = None, miss: str = "") -> str:
    """``met``, or the measured miss."""
    if met is None:
        return ""
    if met:
        return "met"
    measured = miss or (f"{ratio:.2f}x" if ratio is not None else "")
    missed = f"**missed**: {measured}" if measured else "**missed**"
    return missed + (" (met on CPU time)" if met_cpu else "")


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else ""


def console_table(rows: list[Row]) -> str:
    """The table as plain text."""
    lines = [
        f"{'group':<10} {'case':<70} {'wall':>10} {'cpu':>10} {'ratio':>7} {'(cpu)':>7}  {'target':<19} met"
    ]
    for r in rows:
        met = _met(r.met, r.met_cpu, r.ratio, r.miss).replace("**", "")
        cpu = _fmt(r.cpu, r.unit) if r.cpu is not None else ""
        lines.append(
            f"{r.group:<10} {r.case:<70} {_fmt(r.value, r.unit):>10} {cpu:>10} "
            f"{_ratio(r.ratio):>7} {_ratio(r.cpu_ratio):>7}  {r.target:<19} {met}"
        )
        if r.note:
            lines.append(f"{'':<13}{r.note}")
    return "\n".join(lines)


def markdown_section(rows: list[Row], info: dict[str, Any]) -> str:
    """The generated part of docs/benchmarks.md: settings, machine and the table."""
    m, s = info["machine"], info["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines = [
        f"Measured {m['date']} with `{info['command']}` ({info['elapsed_s'] / 60:.1f} min).",
        "",
        f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}; "
        f"Python {m['python']}; {versions}.",
        f"- **Load:** 1/5/15-minute load average {m.get('load_average_at_start')} at the start and "
        f"{info.get('load_average_at_end')} at the end (the machine is shared; cases alternate so that "
        "load changes hit all of them alike, and CPU time is shown beside wall time).",
        f"- **Accelerator:** {info['accelerator']}.",
        *(
            f"- **Merged:** the {', '.join(m['groups'])} rows are from `{m['command']}` of {m['date']}."
            for m in info.get("merged", [])
        ),
        f"- **Code:** the working tree at commit {info['code']['commit']}"
        + (
            f", with changes in {', '.join(f'`{p}`' for p in info['code']['modified'])}"
            if info["code"]["modified"]
            else ""
        )
        + ".",
        f"- **Settings:** {s['repeats']} samples per case (medians shown"
        + (
            "; in the invocation above, the merged ones' own counts are in results.json"
            if info.get("merged")
            else ""
        )
        + f"), torch threads {s['threads']}; "
        f"table {s['rows']:,} rows x 32 features, binary target; {s['epochs']} epochs, batch size "
        f"{s['batch_size']} (evaluation and prediction {4 * s['batch_size']}), "
        f"validation fraction {s['val_fraction']}; extra plugins {list(s['plugin_counts'])}; "
        f"per-step breakdown at batch sizes {list(s.get('overhead_batch_sizes', []))}; "
        f"scale cases at {[f'{r:,}' for r in s.get('scale_rows', [])]} rows, "
        f"{s.get('scale_epochs', 1)} epoch(s), one sample each.",
        "",
        "| Group | Case | Wall | CPU | Compared with | Ratio | Ratio (CPU) | Target | Met | Notes |",
        "|---|---|---:|---:|---|---:|---:|---|---|---|",
    ]
    for r in rows:
        cpu = _fmt(r.cpu, r.unit) if r.cpu is not None else ""
        lines.append(
            f"| {r.group} | {r.case} | {_fmt(r.value, r.unit)} | {cpu} | {r.reference} | {_ratio(r.ratio)} | "
            f"{_ratio(r.cpu_ratio)} | {r.target} | {_met(r.met, r.met_cpu, r.ratio, r.miss)} | {r.note} |"
        )
    failures = info.get("failures") or {}
    if failures:
        lines += ["", "Cases that failed:", ""]
        lines += [f"- `{key}`: {msg.splitlines()[0]}" for key, msg in failures.items()]
    return "\n".join(lines) + "\n"


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """Write results.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def update_docs(path: Path, section: str) -> None:
    """Replace the generated section of ``path`` (between the markers); create the file if missing."""
    block = f"{BEGIN}\n{section}{END}"
    if path.exists() and BEGIN.split(" (")[0] in path.read_text():
        text = path.read_text()
        pattern = re.compile(re.escape(BEGIN.split(" (")[0]) + r".*?" + re.escape(END), re.DOTALL)
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = f"# Benchmarks\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
