"""How a benchmarked process reports its in-process timings: one marked JSON line on stderr."""

from __future__ import annotations

import json
import resource
import sys

__all__ = ["MARK", "parse_report", "peak_rss_mb", "report"]

#: prefix of the stderr line that carries the timings
MARK = "BENCHMARK-TIMES "


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(times: dict[str, float]) -> None:
    """Print ``times`` (seconds) as one marked JSON line on stderr, where the runner finds it."""
    print(MARK + json.dumps(times), file=sys.stderr, flush=True)


def parse_report(stderr: str) -> dict[str, float]:
    """The timings a process reported (merged, later lines win); empty if it reported none."""
    times: dict[str, float] = {}
    for line in stderr.splitlines():
        if line.startswith(MARK):
            times.update(json.loads(line[len(MARK) :]))
    return times
