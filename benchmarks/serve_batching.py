"""Throughput and latency of ``lightkit serve`` with and without dynamic batching (not a test).

    python benchmarks/serve_batching.py                         # trains a small wine run first
    python benchmarks/serve_batching.py --ckpt_path runs/wine --requests 5000 --clients 32
    python benchmarks/serve_batching.py --batch-sizes 1,8,32 --output serve.json

For each ``--max_batch_size`` the same checkpoint is served by a real ``python -m lightkit serve``
process on loopback (one inference worker, ``--api_servers`` HTTP processes, 4 by default).
``--clients`` threads, each with its own keep-alive connection, send ``--requests`` one-row
requests in all (after a warm-up), and every answer is checked (status 200, one prediction). It
prints requests/s, p50 and p99 latency and failures per batch size, and the throughput ratio of
each batch size to the first. The clients run on the same machine as the server, so on a small
machine they compete with it for the CPU: compare ratios, not absolute figures, across machines.
So it also prints the CPU time per request of the server's processes (HTTP servers, inference
worker, LitServe's manager, from psutil) and of the clients (this process): what each request
costs the server, whatever the machine, and how much of the machine the clients took.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROW = {
    "alcohol": 13.2,
    "malic_acid": 1.78,
    "ash": 2.14,
    "alcalinity_of_ash": 11.2,
    "magnesium": 100.0,
    "total_phenols": 2.65,
    "flavanoids": 2.76,
    "nonflavanoid_phenols": 0.26,
    "proanthocyanins": 1.28,
    "color_intensity": 4.38,
    "hue": 1.05,
    "od280/od315_of_diluted_wines": 3.4,
    "proline": 1050.0,
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _train(workdir: Path) -> Path:
    """A small wine run (the model's size does not matter here: the serving path does)."""
    subprocess.run(
        [sys.executable, "-m", "lightkit", "fit", "--config", str(REPO / "configs" / "wine_mlp.yaml"),
         "--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false", "--run.name", "bench"],
        cwd=workdir, check=True, capture_output=True,
    )  # fmt: skip
    return workdir / "runs" / "bench"


def _wait_healthy(port: int, process: subprocess.Popen, polls: int = 1200) -> None:
    for _ in range(polls):
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before it was healthy")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the server on port {port} was not healthy after {polls} polls")


def _client(port: int, count: int, body: bytes, latencies: list[float], failures: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    for _ in range(count):
        start = time.perf_counter()
        try:
            conn.request("POST", "/predict", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            ok = response.status == 200 and len(json.loads(payload)["predictions"]) == 1
        except (OSError, ValueError, KeyError, http.client.HTTPException) as err:
            ok, payload = False, repr(err).encode()
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - start)
        if not ok:
            failures.append(payload[:200].decode(errors="replace"))
    conn.close()


def _load(port: int, requests: int, clients: int) -> dict[str, float]:
    body = json.dumps(ROW).encode()
    per_client = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    threads = [
        threading.Thread(target=_client, args=(port, n, body, latencies[i], failures))
        for i, n in enumerate(per_client)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    every = sorted(x for part in latencies for x in part)
    return {
        "requests": len(every),
        "failed": len(failures),
        "seconds": elapsed,
        "requests_per_s": len(every) / elapsed,
        "p50_ms": 1000 * statistics.median(every),
        "p99_ms": 1000 * every[min(len(every) - 1, int(0.99 * len(every)))],
        "first_failure": failures[0] if failures else None,
    }


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and all its descendants."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measure(ckpt: Path, batch_size: int, args: argparse.Namespace) -> dict[str, float]:
    """Serve ``ckpt`` with ``--max_batch_size batch_size`` and load it."""
    port = _free_port()
    command = [
        sys.executable, "-m", "lightkit", "serve", "--ckpt_path", str(ckpt), "--port", str(port),
        "--max_batch_size", str(batch_size), "--batch_timeout", str(args.batch_timeout),
        "--log_level", "warning", "--accelerator", args.accelerator,
    ]  # fmt: skip
    if args.api_servers:
        command += ["--api_servers", str(args.api_servers)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(port, process)
        _load(port, args.warmup, min(args.clients, args.warmup))
        server_cpu, client_cpu = _tree_cpu_s(process.pid), time.process_time()
        result = _load(port, args.requests, args.clients)
        server_cpu, client_cpu = _tree_cpu_s(process.pid) - server_cpu, time.process_time() - client_cpu
        result["server_cpu_ms_per_request"] = 1000 * server_cpu / result["requests"]
        result["client_cpu_ms_per_request"] = 1000 * client_cpu / result["requests"]
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", type=Path, help="A wine run or checkpoint (default: train one).")
    parser.add_argument("--requests", type=int, default=5000, help="Requests per batch size (one row each).")
    parser.add_argument("--clients", type=int, default=32, help="Concurrent clients.")
    parser.add_argument("--warmup", type=int, default=200, help="Requests sent before measuring.")
    parser.add_argument("--batch-sizes", default="1,32", help="Comma-separated --max_batch_size values.")
    parser.add_argument("--batch_timeout", type=float, default=0.005, help="The server's --batch_timeout.")
    parser.add_argument("--accelerator", default="cpu", help="The server's --accelerator.")
    parser.add_argument(
        "--api_servers",
        type=int,
        default=4,
        help="The server's --api_servers: HTTP processes, so that with batching the HTTP side is not "
        "what limits throughput (default: 4).",
    )
    parser.add_argument("--output", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="lightkit-serve-bench-") as tmp:
        ckpt = args.ckpt_path or _train(Path(tmp))
        results = {size: measure(ckpt, size, args) for size in sizes}
    base = results[sizes[0]]
    print(f"lightkit serve, {args.requests} one-row requests from {args.clients} clients on loopback "
          f"({os.cpu_count()} CPUs, accelerator {args.accelerator}, {args.api_servers} HTTP servers)")  # fmt: skip
    print(
        f"{'max_batch_size':>14} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'ratio':>6}"
        f" {'server CPU ms/req':>18} {'ratio':>6} {'client CPU ms/req':>18}"
    )
    for size, r in results.items():
        ratio = r["requests_per_s"] / base["requests_per_s"]
        cpu_ratio = base["server_cpu_ms_per_request"] / r["server_cpu_ms_per_request"]
        print(
            f"{size:>14} {r['requests_per_s']:>11.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['failed']:>7} {ratio:>5.2f}x {r['server_cpu_ms_per_request']:>18.3f} {cpu_ratio:>5.2f}x"
            f" {r['client_cpu_ms_per_request']:>18.3f}"
        )
        if r["first_failure"]:
            print(f"  first failure: {r['first_failure']}")
    if args.output:
        args.output.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2) + "\n")
    return 1 if any(r["failed"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
