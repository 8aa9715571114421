"""How long a plugin module takes to import, measured in a fresh interpreter.

torch and Lightning are imported first and not counted: every plugin pays for them. What is
measured is the plugin's own cost on top (its module, and whatever else it pulls in), which is
what ``lightkit fit --model <plugin>`` adds. ``python -X importtime`` names the slowest modules,
so a slow import comes with a lead on what to defer.

Where ``os.fork`` is safe (Linux), one helper interpreter imports torch and Lightning once and
forks a fresh child for each measurement, so checking several plugins pays for torch once. Elsewhere
each measurement starts its own interpreter.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["DEFAULT_IMPORT_BUDGET_S", "ImportTiming", "import_budget", "start_import_timing"]

#: seconds a plugin module may take to import on top of torch and Lightning; generous on
#: purpose, to catch work done at import (downloads, building models), not to benchmark
DEFAULT_IMPORT_BUDGET_S = 10.0

#: one request per line on stdin: {"module": ..., "path": [...]}; one JSON result per line on stdout
_SERVER = r"""
import importlib, json, os, sys, tempfile, time
import torch, lightning.pytorch
print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    log = tempfile.TemporaryFile()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.dup2(log.fileno(), 2)
        sys.path[:] = request["path"]
        importlib.invalidate_caches()
        try:
            start = time.perf_counter()
            importlib.import_module(request["module"])
            result = {"seconds": time.perf_counter() - start}
        except BaseException as err:
            result = {"error": f"{type(err).__name__}: {err}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    log.seek(0)
    result = json.loads(b"".join(chunks) or b'{"error": "the measuring process died"}')
    result["log"] = log.read().decode(errors="replace")
    log.close()
    print(json.dumps(result), flush=True)
"""

_MARK = "@@lightkit-import-timing@@"

#: the fallback: one interpreter per measurement
_PROBE = f"""
import sys, time, importlib
import torch, lightning.pytorch
print({_MARK!r}, file=sys.stderr, flush=True)
start = time.perf_counter()
importlib.import_module(sys.argv[1])
print(time.perf_counter() - start)
"""

_server: subprocess.Popen[str] | None = None
atexit.register(lambda: _stop_server())


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
        error: Why the import failed, when it did.
    """

    module: str
    process: subprocess.Popen[str] | None = None
    server: bool = False
    seconds: float | None = None
    slowest: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""

    def wait(self) -> ImportTiming:
        """Wait for the measurement and fill in the fields."""
        if self.process is None:
            return self
        process, self.process = self.process, None
        if self.server:
            self._read_server_reply(process)
            return self
        out, err = process.communicate()
        before, _, after = err.partition(_MARK)
        if process.returncode != 0:
            self.error = "\n".join((after or before).strip().splitlines()[-3:])
            return self
        self.seconds = float(out.strip().splitlines()[-1])
        self.slowest = _slowest(after)
        return self

    def _read_server_reply(self, process: subprocess.Popen[str]) -> None:
        stdout: IO[str] | None = process.stdout
        line = stdout.readline() if stdout is not None else ""
        if line == "ready\n":  # the helper's greeting, once torch and Lightning are imported
            line = stdout.readline() if stdout is not None else ""
        if not line:  # the helper died: measure the slow way
            _stop_server()
            fallback = _start_probe(self.module).wait()
            self.seconds, self.slowest, self.error = fallback.seconds, fallback.slowest, fallback.error
            return
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            self.error = reply["error"]
            return
        self.seconds = float(reply["seconds"])
        self.slowest = _slowest(reply.get("log", ""))


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


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def _start_probe(module: str) -> ImportTiming:
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-c", _PROBE, module],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    return ImportTiming(module=module, process=process)


def _stop_server() -> None:
    global _server
    if _server is not None:
        if _server.stdin is not None:
            _server.stdin.close()
        _server.kill()
        _server.wait()
        _server = None


def _running_server() -> subprocess.Popen[str] | None:
    """The helper interpreter, started on first use; None where forking is not safe."""
    global _server
    if (
        not hasattr(os, "fork")
        or sys.platform == "darwin"
        or os.environ.get("LIGHTKIT_IMPORT_TIMING") == "spawn"
    ):
        return None
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_env(),
        )
    return _server


def start_import_timing(module: str) -> ImportTiming:
    """Start timing the import of ``module``; call :meth:`ImportTiming.wait` for the result."""
    server = _running_server()
    if server is None or server.stdin is None:
        return _start_probe(module)
    try:
        server.stdin.write(json.dumps({"module": module, "path": [p for p in sys.path if p]}) + "\n")
        server.stdin.flush()
    except OSError:
        _stop_server()
        return _start_probe(module)
    return ImportTiming(module=module, process=server, server=True)
