"""How long a plugin module takes to import, measured in a fresh interpreter.

torch and Lightning are imported first and not counted: every plugin pays for them. What is
measured is the plugin's own cost on top (its module, and whatever else it pulls in), which is
what ``lightkit fit --model <plugin>`` adds. ``python -X importtime`` names the slowest modules,
so a slow import comes with a lead on what to defer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

__all__ = ["DEFAULT_IMPORT_BUDGET_S", "ImportTiming", "import_budget", "start_import_timing"]

#: seconds a plugin module may take to import on top of torch and Lightning; generous on
#: purpose, to catch work done at import (downloads, building models), not to benchmark
DEFAULT_IMPORT_BUDGET_S = 5.0

_MARK = "@@lightkit-import-timing@@"

_PROBE = f"""
import sys, time, importlib
import torch, lightning.pytorch
print({_MARK!r}, file=sys.stderr, flush=True)
start = time.perf_counter()
importlib.import_module(sys.argv[1])
print(time.perf_counter() - start)
"""


def import_budget(budget_s: float | None = None) -> float:
    """The budget in seconds: ``budget_s``, else ``LIGHTKIT_IMPORT_BUDGET_S``, else the default."""
    if budget_s is not None:
        return float(budget_s)
    env = os.environ.get("LIGHTKIT_IMPORT_BUDGET_S")
    return float(env) if env else DEFAULT_IMPORT_BUDGET_S


@dataclass
class ImportTiming:
    """A running or finished import measurement of one module.

    Attributes:
        module: The module imported.
        seconds: The plugin's own import time; None until finished, or when the import failed.
        slowest: ``(module, seconds)`` of the slowest modules it imported itself, slowest first.
        error: The end of stderr when the import failed.
    """

    module: str
    process: subprocess.Popen[str] | None = None
    seconds: float | None = None
    slowest: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""

    def wait(self) -> ImportTiming:
        """Wait for the measurement and fill in the fields."""
        if self.process is None:
            return self
        out, err = self.process.communicate()
        code, self.process = self.process.returncode, None
        before, _, after = err.partition(_MARK)
        if code != 0:
            self.error = "\n".join((after or before).strip().splitlines()[-3:])
            return self
        self.seconds = float(out.strip().splitlines()[-1])
        self.slowest = _slowest(after)
        return self


def _slowest(importtime_log: str, n: int = 3) -> list[tuple[str, float]]:
    """The ``n`` modules with the largest self time in a ``-X importtime`` log."""
    rows: list[tuple[str, float]] = []
    for line in importtime_log.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            rows.append((parts[2], int(parts[0]) / 1e6))
    return sorted(rows, key=lambda r: r[1], reverse=True)[:n]


def start_import_timing(module: str) -> ImportTiming:
    """Start importing ``module`` in a fresh interpreter; call :meth:`ImportTiming.wait` for the result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-c", _PROBE, module],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return ImportTiming(module=module, process=process)
