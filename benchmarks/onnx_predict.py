"""Torch-free prediction (``lightkit predict --model_file``) against ``--ckpt_path`` (not a test).

    python benchmarks/onnx_predict.py                          # trains and exports a churn run first
    python benchmarks/onnx_predict.py --rows 200000 --repeats 5 --output onnx.json
    python benchmarks/onnx_predict.py --ckpt_path runs/churn   # an existing run (exported here)

The churn CSV run (numeric and categorical columns, so preprocessing is part of the work) is
exported with ``lightkit export``; then the same rows are predicted both ways, 1 row and
``--rows`` rows drawn from configs/data/churn.csv with an unseen category mixed in:

- **whole process**: ``python -m lightkit predict ...`` from start to exit, as a cron job or a
  batch step runs it: interpreter start, imports, loading, reading the CSV, predicting, writing.
- **in-process**: ``lightkit.cli.main(["predict", ...])`` in a warm interpreter (imports paid,
  one warm-up call), as a notebook or a service that calls the command runs it.
- **predictor held** (ONNX only): ``lightkit.onnx_predictor(...)`` built once, then
  ``predict_columns(csv)`` per call, as a server holds it.

Each figure is the median of ``--repeats`` runs, in wall time and in CPU time (the machine may be
shared: CPU time is the steadier of the two). torch runs with ``OMP_NUM_THREADS=1`` (``--threads``),
as in ``benchmarks/run.py``: with one OpenMP thread per core, a loaded machine makes its threads
spin (a BatchNorm in eval mode took 30 ms per 128-row batch in a profile). ONNX Runtime keeps its
own default thread pool. The ratios are checkpoint time / ONNX time. Every run
writes its predictions.csv, and the two files are compared (labels equal, probabilities within
1e-5), so a fast wrong answer cannot win.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHURN = REPO / "configs" / "data" / "churn.csv"


def _lightkit(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "lightkit", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"`lightkit {' '.join(args)}` failed:\n{proc.stderr[-3000:]}")


def _prepare(workdir: Path, ckpt_path: str | None, rows: int) -> tuple[Path, Path, dict[int, Path]]:
    """The run, its export, and CSVs of 1 and ``rows`` rows."""
    import numpy as np
    import pandas as pd

    workdir.mkdir(parents=True, exist_ok=True)
    if ckpt_path is None:
        _lightkit(
            "fit", "--config", str(REPO / "configs" / "churn_csv.yaml"), "--data.path", str(CHURN),
            "--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false", "--run.name", "bench-onnx",
            cwd=workdir,
        )  # fmt: skip
        run = workdir / "runs" / "bench-onnx"
    else:
        run = Path(ckpt_path).resolve()
    export = workdir / "onnx-export"
    _lightkit("export", "--ckpt_path", str(run), "--output", str(export), cwd=workdir)
    frame = pd.read_csv(CHURN).drop(columns=["churned"])
    big = frame.iloc[np.random.default_rng(0).integers(0, len(frame), rows)].reset_index(drop=True)
    big["customer_id"] = [f"B{i:07d}" for i in range(rows)]
    big.loc[big.index % 50 == 0, "plan"] = "enterprise"  # an unseen category, as in real traffic
    files = {}
    for n in (1, rows):
        files[n] = workdir / f"rows-{n}.csv"
        big.iloc[:n].to_csv(files[n], index=False)
    return run, export, files


def _median(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "wall_s": statistics.median(s[0] for s in samples),
        "cpu_s": statistics.median(s[1] for s in samples),
        "runs": len(samples),
    }


def _whole_process(argv: list[str], cwd: Path, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "lightkit", *argv], cwd=cwd, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"`lightkit {' '.join(argv)}` failed:\n{proc.stderr.decode()[-3000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        samples.append((wall, cpu))
    return _median(samples)


def _in_process(call: Callable[[], object], repeats: int) -> dict[str, float]:
    call()  # warm-up: imports, first-call caches
    samples = []
    for _ in range(repeats):
        cpu0, start = time.process_time(), time.perf_counter()
        call()
        samples.append((time.perf_counter() - start, time.process_time() - cpu0))
    return _median(samples)


def _cli(argv: list[str]) -> Callable[[], None]:
    from lightkit.cli import main

    def call() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        if code != 0:
            raise SystemExit(f"`lightkit {' '.join(argv)}` exited with {code}")

    return call


def _check_same(onnx_csv: Path, ckpt_csv: Path) -> None:
    import numpy as np
    import pandas as pd

    a, b = pd.read_csv(onnx_csv), pd.read_csv(ckpt_csv)
    assert list(a.columns) == list(b.columns) and len(a) == len(b), (onnx_csv, ckpt_csv)
    assert (a["customer_id"] == b["customer_id"]).all() and (a["prediction"] == b["prediction"]).all()
    assert np.abs(a["prob_1"].to_numpy() - b["prob_1"].to_numpy()).max() <= 1e-5


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", help="An existing churn-like run; by default one is trained.")
    parser.add_argument("--rows", type=int, default=200_000, help="Rows of the large prediction (200000).")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per figure; the median is kept (3).")
    parser.add_argument("--workdir", type=Path, help="Scratch directory; by default a temporary one.")
    parser.add_argument(
        "--threads", type=int, default=1, help="OMP_NUM_THREADS for torch (1, as benchmarks/run.py uses)."
    )
    parser.add_argument("--output", type=Path, help="Also write the figures to this JSON file.")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch is imported, here and in children
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="lightkit-onnx-bench-") as tmp:
            return _run(args, Path(tmp))
    return _run(args, args.workdir.resolve())


def _run(args: argparse.Namespace, workdir: Path) -> int:
    run, export, files = _prepare(workdir, args.ckpt_path, args.rows)
    model = str(export / "model.onnx")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    import lightkit

    results: dict[str, dict[str, dict[str, float]]] = {}
    for n, rows_csv in files.items():
        onnx_out, ckpt_out = workdir / f"onnx-{n}.csv", workdir / f"ckpt-{n}.csv"
        data = ["--data.path", str(rows_csv)]
        onnx_argv = ["predict", "--model_file", model, *data, "--run.output", str(onnx_out)]
        ckpt_argv = ["predict", "--ckpt_path", str(run), *data, "--run.output", str(ckpt_out)]
        ckpt_argv += ["--trainer.enable_progress_bar", "false"]
        label = f"{n} row" + ("s" if n > 1 else "")
        print(f"{label}: whole process ...", file=sys.stderr)
        results[f"whole process, {label}"] = {
            "onnx": _whole_process(onnx_argv, workdir, args.repeats),
            "checkpoint": _whole_process(ckpt_argv, workdir, args.repeats),
        }
        _check_same(onnx_out, ckpt_out)
        print(f"{label}: in-process ...", file=sys.stderr)
        results[f"in-process, {label}"] = {
            "onnx": _in_process(_cli(onnx_argv), args.repeats),
            "checkpoint": _in_process(_cli(ckpt_argv), args.repeats),
        }
        _check_same(onnx_out, ckpt_out)
        held = lightkit.onnx_predictor(model)
        results[f"predictor held, {label}"] = {
            "onnx": _in_process(lambda p=held, csv=rows_csv: p.predict_columns(csv), args.repeats)
        }

    cores = os.cpu_count()
    print(f"\ntorch-free predict vs checkpoint predict; median of {args.repeats}; {cores} cores, "
          f"OMP_NUM_THREADS={args.threads}, "
          f"Python {platform.python_version()}; {args.rows} rows from configs/data/churn.csv\n")  # fmt: skip
    head = ("case", "onnx wall", "ckpt wall", "ratio", "onnx cpu", "ckpt cpu", "ratio")
    print("{:<28} {:>10} {:>10} {:>7}   {:>9} {:>9} {:>7}".format(*head))
    for case, pair in results.items():
        onnx, ckpt = pair["onnx"], pair.get("checkpoint")
        if ckpt is None:
            print(f"{case:<28} {onnx['wall_s']:>9.3f}s {'':>10} {'':>7}   {onnx['cpu_s']:>8.3f}s")
            continue
        wall_ratio = ckpt["wall_s"] / onnx["wall_s"]
        cpu_ratio = ckpt["cpu_s"] / max(onnx["cpu_s"], 1e-9)
        print(
            f"{case:<28} {onnx['wall_s']:>9.3f}s {ckpt['wall_s']:>9.3f}s {wall_ratio:>6.1f}x"
            f"   {onnx['cpu_s']:>8.3f}s {ckpt['cpu_s']:>8.3f}s {cpu_ratio:>6.1f}x"
        )
    if args.output:
        record = {"rows": args.rows, "repeats": args.repeats, "threads": args.threads, "cores": cores}
        record["results"] = results
        args.output.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
