"""Running benchmark cases as subprocesses, interleaved, and summarising them by medians.

Every sample is one fresh process: wall time from start to exit, the CPU time it used (user +
system, from ``wait4``: on a busy shared machine this tracks what the wall time would be on an
idle one), peak resident memory of that process (``ru_maxrss``), and the in-process timings it
reported (see :mod:`benchmarks.timing`). Cases of a group run interleaved, A B C A B C ..., so that a change
in the machine's load during the run hits every case alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.timing import parse_report

__all__ = ["Case", "CaseFailed", "Sample", "medians", "run_interleaved", "run_once"]


@dataclass
class Case:
    """One command to measure.

    Attributes:
        key: Identifier in results.json, e.g. ``startup.lightkit_help``.
        label: What the table shows.
        argv: The command.
        env: Environment variables added for this case.
        before: Called before every sample (e.g. to remove the previous run's output).
    """

    key: str
    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[int], None] | None = None


@dataclass
class Sample:
    """One run of one case."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    times: dict[str, float]


class CaseFailed(RuntimeError):
    """A benchmarked command exited with an error."""


def run_once(case: Case, cwd: Path, base_env: dict[str, str], log_dir: Path, repetition: int = 0) -> Sample:
    """Run ``case`` once in a fresh process and measure it.

    Raises:
        CaseFailed: The command exited non-zero; the message ends with its stderr.
    """
    if case.before is not None:
        case.before(repetition)
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path = log_dir / f"{case.key}.{repetition}.out"
    err_path = log_dir / f"{case.key}.{repetition}.err"
    env = {**base_env, **case.env}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(case.argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise CaseFailed(f"{case.label} exited with {proc.returncode}: {' '.join(case.argv)}\n{tail}")
    rss_kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(wall_s=wall, cpu_s=cpu, peak_rss_mb=rss_kb / 1024, times=parse_report(stderr))


def run_interleaved(
    cases: Sequence[Case],
    repeats: int,
    cwd: Path,
    base_env: dict[str, str],
    log_dir: Path,
    warmup: bool = False,
    progress: Callable[..., None] = print,
) -> dict[str, list[Sample] | str]:
    """Run every case ``repeats`` times, alternating A B C A B C; failures are kept as messages.

    Args:
        cases: The cases of one comparison group.
        repeats: Samples per case.
        cwd: Working directory of every process.
        base_env: Environment of every process.
        log_dir: Where each sample's stdout and stderr go.
        warmup: Run every case once first, unmeasured (warms the page cache and bytecode caches).
        progress: Called with a short line after every sample.
    """
    results: dict[str, list[Sample] | str] = {case.key: [] for case in cases}
    if warmup:
        for case in cases:
            try:
                run_once(case, cwd, base_env, log_dir / "warmup")
            except CaseFailed as err:
                results[case.key] = str(err)
    for repetition in range(repeats):
        for case in cases:
            samples = results[case.key]
            if isinstance(samples, str):  # failed before: do not retry
                continue
            try:
                sample = run_once(case, cwd, base_env, log_dir, repetition)
            except CaseFailed as err:
                results[case.key] = str(err)
                progress(f"  FAILED {case.label}: {str(err).splitlines()[0]}")
                continue
            samples.append(sample)
            extra = "  ".join(f"{k}={v:.2f}" for k, v in sample.times.items())
            progress(
                f"  [{repetition + 1}/{repeats}] {case.label:<58} {sample.wall_s:7.2f} s "
                f"(cpu {sample.cpu_s:6.2f} s) {sample.peak_rss_mb:6.0f} MB  {extra}",
                flush=True,
            )
    return results


def medians(samples: list[Sample]) -> dict[str, Any]:
    """Median wall time, CPU time, peak RSS and reported timings, plus every sample's values."""
    keys = sorted({k for s in samples for k in s.times})
    summary: dict[str, Any] = {
        "wall_s": statistics.median(s.wall_s for s in samples),
        "cpu_s": statistics.median(s.cpu_s for s in samples),
        "peak_rss_mb": statistics.median(s.peak_rss_mb for s in samples),
        "samples_wall_s": [round(s.wall_s, 4) for s in samples],
        "samples_cpu_s": [round(s.cpu_s, 4) for s in samples],
    }
    for key in keys:
        values = [s.times[key] for s in samples if key in s.times]
        summary[key] = statistics.median(values)
        summary[f"samples_{key}"] = [round(v, 4) for v in values]
    return summary
