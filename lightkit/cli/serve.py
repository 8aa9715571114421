"""``lightkit serve``: an HTTP prediction server for a trained run, on LitServe.

``lightkit serve --ckpt_path best`` rebuilds the run from its checkpoint (config and fitted
preprocessing, nothing retyped), starts LitServe on 127.0.0.1:8000 and prints the URL, the model
and a ``curl`` line. ``POST /predict`` takes raw rows with the column names of training and
answers with the columns of ``predictions.csv``. See docs/serving.md.

Importing this module imports neither torch nor LitServe; ``--help`` needs neither.
"""

from __future__ import annotations

import argparse
import os
from importlib.util import find_spec

from lightkit.cli.command_parser import CommandParser
from lightkit.errors import UsageError
from lightkit.runs import RUNS_ROOT

__all__ = ["main"]

_DESCRIPTION = """\
Serve a trained run over HTTP with LitServe: POST rows with the column names of training to
/predict, get the columns of `lightkit predict`'s predictions.csv back. The checkpoint's config
and fitted preprocessing rebuild the model in every worker; /docs and /openapi.json describe the
request fields, /info the model, and /health is 200 once the model is loaded.
"""

_EPILOG = """\
examples:
  lightkit serve --ckpt_path best
  lightkit serve --ckpt_path runs/churn --port 8080 --max_batch_size 32
  lightkit serve --ckpt_path runs/cv-TabularMLP-SklearnDataModule-20250101-120000   (fold ensemble)
  curl -s http://127.0.0.1:8000/predict -H 'Content-Type: application/json' -d '{"rows": [{...}]}'

Needs LitServe: pip install 'lightkit[serve]'. See docs/serving.md.
"""


def _size(text: str) -> int:
    """``4194304``, ``512KB``, ``4MB``, ``1GB`` -> bytes."""
    units = {"KB": 1024, "MB": 1024**2, "GB": 1024**3, "B": 1}
    raw = text.strip().upper().replace("IB", "B")
    for unit, factor in units.items():
        if raw.endswith(unit) and raw[: -len(unit)].strip().replace(".", "", 1).isdigit():
            return int(float(raw[: -len(unit)]) * factor)
    if raw.isdigit():
        return int(raw)
    raise argparse.ArgumentTypeError(f"not a size: {text!r} (use bytes, or 512KB, 4MB, 1GB)")


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="lightkit serve",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--ckpt_path",
        required=True,
        metavar="PATH",
        help="A .ckpt file, a run directory, `best` or `last` (of --run.name, else the latest run), or a "
        "cross-validation directory (serves the fold ensemble, outputs averaged).",
    )
    model.add_argument("--run.name", dest="run_name", metavar="NAME", help="The run `best`/`last` refer to.")
    model.add_argument(
        "--trainer.default_root_dir",
        dest="run_root",
        default=RUNS_ROOT,
        metavar="DIR",
        help="Where `best`/`last` look for runs, as for predict (default: %(default)s).",
    )
    http = parser.add_argument_group("server")
    http.add_argument(
        "--host",
        default="127.0.0.1",
        help="Interface to bind: 127.0.0.1 (this machine only, the default), 0.0.0.0 or :: (every one).",
    )
    http.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s).")
    http.add_argument(
        "--api_key",
        metavar="KEY",
        help="Require this key in the X-API-Key header of every request (default: $LIT_SERVER_API_KEY, "
        "else no key).",
    )
    http.add_argument(
        "--max_request_size",
        type=_size,
        default="4MB",
        metavar="SIZE",
        help="Largest request body; larger ones get a 413 (default: 4MB).",
    )
    http.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="How long a request may wait for its prediction before a 504 (default: %(default)s).",
    )
    http.add_argument(
        "--log_level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="Log level of LitServe and uvicorn; `info` logs every request (default: %(default)s).",
    )
    workers = parser.add_argument_group("workers and batching")
    workers.add_argument(
        "--max_batch_size",
        type=int,
        default=1,
        metavar="N",
        help="Gather up to N concurrent requests into one model call (dynamic batching; default 1: off).",
    )
    workers.add_argument(
        "--batch_timeout",
        type=float,
        default=0.005,
        metavar="SECONDS",
        help="How long a batch waits to fill before the model runs (default: %(default)s).",
    )
    workers.add_argument(
        "--workers_per_device",
        type=int,
        default=1,
        metavar="N",
        help="Inference worker processes per device, each with its own copy of the model (default: 1).",
    )
    workers.add_argument(
        "--api_servers",
        type=int,
        metavar="N",
        help="HTTP server processes, which parse and validate requests (default: one per inference worker).",
    )
    workers.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="torch threads per inference worker; 0 leaves torch's default, every core (default: 1: for "
        "small models, more workers beat more threads).",
    )
    workers.add_argument(
        "--accelerator",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="Where the model runs; `auto` picks a GPU when there is one, else the CPU (default: auto).",
    )
    workers.add_argument(
        "--devices",
        default="auto",
        metavar="N",
        help="How many GPUs to use, or `auto` for all (default: auto).",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``lightkit serve ARGV``; returns the exit code."""
    args = _parser().parse_args(argv)
    if find_spec("litserve") is None:
        raise UsageError(
            "lightkit serve needs LitServe, which is not installed",
            "install it with: pip install 'lightkit[serve]'",
        )
    from lightkit.serving.server import ServeOptions, serve

    options = ServeOptions(
        ckpt_path=args.ckpt_path,
        run_name=args.run_name,
        run_root=args.run_root,
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        batch_timeout=args.batch_timeout,
        workers_per_device=args.workers_per_device,
        api_servers=args.api_servers,
        threads=args.threads,
        accelerator=args.accelerator,
        devices=args.devices,
        api_key=args.api_key or os.environ.get("LIT_SERVER_API_KEY") or None,
        max_request_size=args.max_request_size,
        timeout=args.timeout,
        log_level=args.log_level,
    )
    return serve(options)
