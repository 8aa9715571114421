"""Build and run the LitServe server of ``lightkit serve``: checks, endpoints, errors, shutdown.

:func:`build_server` loads the run once in the main process, so that a checkpoint that cannot
be served fails at start-up (no hook, a broken schema, a model that does not run on an example
row), builds the request and response models, and returns a ``LitServer`` whose workers rebuild
the run in ``setup()``. :func:`serve` runs it until Ctrl-C or SIGTERM, then stops the HTTP
servers (requests in flight are answered), the inference workers and LitServe's manager.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from lightkit.errors import CheckpointError, LightkitError, UsageError
from lightkit.runs import RUNS_ROOT

__all__ = ["ServeOptions", "build_server", "serve"]

#: hosts LitServe can bind to; ``localhost`` means 127.0.0.1
HOSTS = ("127.0.0.1", "0.0.0.0", "::")


@dataclass
class ServeOptions:
    """Options of ``lightkit serve`` (the flags of the same names).

    Args:
        ckpt_path: A ``.ckpt`` file, a run directory, ``best``/``last``, or a cross-validation
            parent directory (the fold ensemble).
        run_name: The run ``best``/``last`` refer to; by default the latest under ``run_root``.
        run_root: Where runs live.
        host: Interface to bind: ``127.0.0.1`` (this machine only), ``0.0.0.0`` or ``::`` (every one).
        port: TCP port.
        max_batch_size: Requests gathered into one model call (dynamic batching); 1 turns it off.
        batch_timeout: Seconds to wait for a batch to fill.
        workers_per_device: Inference worker processes per device.
        api_servers: HTTP server processes (they validate requests); by default one per worker.
        threads: torch threads per inference worker; 0 leaves torch's default (every core).
        accelerator: ``auto`` (a GPU when there is one, else the CPU), ``cpu``, ``cuda`` or ``mps``.
        devices: Number of devices (GPUs), or ``auto`` for all.
        api_key: Require this key in the ``X-API-Key`` header; by default ``LIT_SERVER_API_KEY``.
        max_request_size: Largest request body in bytes.
        timeout: Seconds a request may wait for its prediction before a 504.
        log_level: Log level of LitServe and uvicorn (``info`` logs every request).
    """

    ckpt_path: str
    run_name: str | None = None
    run_root: str = RUNS_ROOT
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_size: int = 1
    batch_timeout: float = 0.005
    workers_per_device: int = 1
    api_servers: int | None = None
    threads: int = 1
    accelerator: str = "auto"
    devices: str = "auto"
    api_key: str | None = None
    max_request_size: int = 4 * 1024 * 1024
    timeout: float = 30.0
    log_level: str = "info"


# -- checks that need no torch ------------------------------------------------------------------------
def check_options(options: ServeOptions) -> ServeOptions:
    """Refuse bad flag values before anything is loaded.

    Raises:
        UsageError: A value out of range, or a port already in use.
    """
    if options.host == "localhost":
        options.host = "127.0.0.1"
    if options.host not in HOSTS:
        raise UsageError(
            f"--host {options.host!r} cannot be served",
            "use 127.0.0.1 (this machine only, the default), 0.0.0.0 (every IPv4 interface) or :: (IPv6).",
        )
    if not 1024 <= options.port <= 65535:
        raise UsageError(f"--port must be between 1024 and 65535, got {options.port}")
    for name in ("max_batch_size", "workers_per_device", "max_request_size"):
        if getattr(options, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(options, name)}")
    if options.threads < 0:
        raise UsageError(f"--threads must be 0 (torch's default) or more, got {options.threads}")
    if options.api_servers is not None and options.api_servers < 1:
        raise UsageError(f"--api_servers must be at least 1, got {options.api_servers}")
    if options.batch_timeout < 0:
        raise UsageError(f"--batch_timeout must be 0 or more seconds, got {options.batch_timeout}")
    if options.timeout <= options.batch_timeout:
        raise UsageError(
            f"--timeout ({options.timeout}) must be longer than --batch_timeout ({options.batch_timeout})"
        )
    if options.devices != "auto" and not (options.devices.isdigit() and int(options.devices) > 0):
        raise UsageError(f"--devices must be a positive number or 'auto', got {options.devices!r}")
    _check_port_free(options.host, options.port)
    return options


def _check_port_free(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise UsageError(
                f"cannot listen on {host} port {port} (from --port): {err.strerror or err}",
                f"is another server running there? Choose another port, e.g. --port {port + 1}.",
            ) from None


def _accelerator(value: str) -> str:
    """``auto`` decided here: LitServe's own ``auto`` looks for a GPU only when torch is imported."""
    import torch

    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if value == "cuda" and not torch.cuda.is_available():
        raise UsageError("--accelerator cuda, but torch finds no CUDA GPU", "use --accelerator cpu, or auto.")
    if value == "mps" and not has_mps:
        raise UsageError("--accelerator mps, but torch finds no Apple GPU", "use --accelerator cpu, or auto.")
    if value != "auto":
        return value
    if torch.cuda.is_available():
        return "cuda"
    if has_mps:
        return "mps"
    return "cpu"


# -- the request size limit ------------------------------------------------------------------------------
class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets a 413 before it is parsed."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body is over the limit of {self.max_bytes} bytes (--max_request_size)"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from fastapi import HTTPException
        from fastapi.responses import JSONResponse

        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = JSONResponse({"error": self._message()}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # a body sent without Content-Length (chunked)
                raise HTTPException(status_code=413, detail=self._message())
            return message

        await self.app(scope, limited, send)


# -- building ----------------------------------------------------------------------------------------------
@dataclass
class Built:
    """A server ready to run, with what the banner prints."""

    server: Any
    served: Any
    info: dict[str, Any]
    example: dict[str, Any]
    options: ServeOptions
    accelerator: str


def _probe(served: Any) -> dict[str, list[Any]]:
    """Predict the schema's example row, so that a model that cannot answer fails now."""
    row = served.schema.example_row()
    outcome = served.predict([[row]])[0]
    if outcome.columns is None:
        reason = outcome.error.message if outcome.error is not None else outcome.failure
        raise CheckpointError(
            f"the run cannot be served: predicting an example row failed ({reason})",
            f"the example row was {json.dumps(row)[:200]}; check the data module's serving_schema() and "
            "rows_to_batch().",
        )
    return outcome.columns


def build_server(options: ServeOptions) -> Built:
    """Load and check the run, and build the LitServer (nothing is started).

    Raises:
        CheckpointError: The checkpoint cannot be found, loaded or served.
        ConfigError: The data module has no serving hooks, or its schema is invalid.
    """
    import litserve as ls
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from lightkit.serving.api import LightkitAPI
    from lightkit.serving.model import ServedModel, resolve_targets
    from lightkit.serving.schema import describe_errors, output_model, request_model

    accelerator = _accelerator(options.accelerator)
    checkpoints, ensemble = resolve_targets(options.ckpt_path, options.run_root, options.run_name)
    served = ServedModel.load(checkpoints, ensemble)
    columns = _probe(served)
    schema = served.schema
    title = f"{type(served.model).__name__} on {type(served.datamodule).__name__}"
    api = LightkitAPI(
        checkpoints,
        ensemble,
        request_model=request_model(schema, title),
        response_model=output_model(columns, schema.id_field),
        api_key=options.api_key,
        max_batch_size=options.max_batch_size,
        batch_timeout=options.batch_timeout if options.max_batch_size > 1 else 0.0,
        threads=options.threads,
    )
    info = served.info() | {"outputs": list(columns)}
    server = ls.LitServer(
        api,
        accelerator=accelerator,
        devices=int(options.devices) if options.devices != "auto" else "auto",
        workers_per_device=options.workers_per_device,
        timeout=options.timeout,
        model_metadata=info,
        middlewares=[(BodyLimit, {"max_bytes": options.max_request_size})],
    )
    server.app.title = f"lightkit serve: {title}"
    server.app.description = (
        "POST rows to /predict and get the columns of `lightkit predict`'s predictions.csv back. "
        "/info describes the model and its fields; /health is 200 once the model is loaded."
    )
    fields, id_field = schema.names, schema.id_field

    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = describe_errors(list(exc.errors()), fields, id_field)
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type:
            message = (
                f"the body must be JSON, sent with Content-Type: application/json (got {content_type!r})"
            )
            return JSONResponse({"error": message, "detail": problems[:1]}, status_code=415)
        status = 400 if any(p["type"] == "json_invalid" for p in problems) else 422
        content: dict[str, Any] = {"error": problems[0]["message"], "detail": problems[:20]}
        if len(problems) > 20:
            content["more"] = len(problems) - 20
        return JSONResponse(content, status_code=status)

    server.app.add_exception_handler(RequestValidationError, invalid_request)
    _document_predict(server.app)
    return Built(server, served, info, schema.example_row(), options, accelerator)


#: the body of every 4xx of /predict that lightkit writes (400, 413, 415, 422)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "PredictError",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "The first problem, in one line."},
        "detail": {
            "type": "array",
            "description": "Every problem (the first 20): the row index and the field, where there are.",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                    "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "type": {"type": "string"},
                    "message": {"type": "string"},
                    "loc": {"type": "array", "items": {}},
                },
            },
        },
        "hint": {"type": "string"},
    },
}


def _document_predict(app: Any) -> None:
    """Name the /predict operation and document its error responses in /openapi.json."""
    errors = {
        400: "The body is not valid JSON.",
        413: "The body is over --max_request_size.",
        415: "The body is not sent as application/json.",
        422: "A row is invalid (a missing, unknown or mistyped field, ...): `detail` names row and field.",
    }
    for route in app.routes:
        if getattr(route, "path", None) == "/predict":
            route.summary = "Predict rows"
            route.description = (
                'Send `{"rows": [{...}, ...]}` (or one row as a bare object) with the feature columns of '
                "training; get one prediction per row, with the columns of `lightkit predict`'s "
                "predictions.csv."
            )
            route.responses = dict(route.responses) | {
                code: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
                for code, text in errors.items()
            }


# -- running -----------------------------------------------------------------------------------------------
def _banner(built: Built) -> str:
    o, info = built.options, built.info
    host = "[::1]" if o.host == "::" else ("127.0.0.1" if o.host == "0.0.0.0" else o.host)
    url = f"http://{host}:{o.port}"
    checkpoint = info["checkpoint"]
    source = (
        f"{len(checkpoint)} fold checkpoints of {info['run']}" if isinstance(checkpoint, list) else checkpoint
    )
    key = " -H 'X-API-Key: <key>'" if o.api_key else ""
    body = json.dumps({"rows": [built.example]})
    batching = (
        f"dynamic batching up to {o.max_batch_size} requests ({o.batch_timeout * 1000:g} ms)"
        if o.max_batch_size > 1
        else "no batching"
    )
    lines = [
        f"lightkit serve: {info['model']} on {info['data']}, {source}",
        f"  predict  POST {url}/predict",
        f"  more     {url}/docs (the request fields), {url}/info (the model), {url}/health",
        f"  workers  {o.workers_per_device} per device on {built.accelerator}, {batching}",
        f"  try      curl -s {url}/predict -H 'Content-Type: application/json'{key} -d '{body}'",
    ]
    if o.host != "127.0.0.1":
        lines.append(f"  note     listening on every interface ({o.host}): other machines can reach it")
    if o.api_key:
        lines.append("  auth     requests need the API key in the X-API-Key header")
    lines.append("Ctrl-C or SIGTERM stops the server.")
    return "\n".join(lines)


def _announce_ready(server: Any, stop: threading.Event, started: float) -> None:
    """Print one line once every worker has loaded the model."""
    from litserve.utils import WorkerSetupStatus

    while not stop.wait(0.2):
        status = getattr(server, "workers_setup_status", None)
        if status is None:
            continue
        try:
            values = list(status.values())
        except Exception:  # noqa: BLE001 - the manager is gone: the server is stopping
            return
        if values and all(v == WorkerSetupStatus.READY for v in values):
            print(
                f"ready: {len(values)} worker(s) loaded the model in {time.monotonic() - started:.1f} s",
                flush=True,
            )
            return
        if any(v == WorkerSetupStatus.ERROR for v in values):
            return


def _stop_leftovers(server: Any) -> None:
    """Whatever LitServe did not stop (start-up interrupted or failed): workers, then the manager."""
    for process in getattr(server, "inference_workers", None) or []:
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    manager = getattr(getattr(server, "transport_config", None), "manager", None)
    if manager is not None:
        try:
            manager.shutdown()
        except Exception:  # noqa: BLE001 - already shut down
            pass


def serve(options: ServeOptions) -> int:
    """Run ``lightkit serve`` until Ctrl-C or SIGTERM; returns the exit code.

    Raises:
        LightkitError: The run cannot be served, or the server cannot start.
    """
    check_options(options)
    started = time.monotonic()
    built = build_server(options)
    print(_banner(built), flush=True)
    stop = threading.Event()
    threading.Thread(target=_announce_ready, args=(built.server, stop, started), daemon=True).start()

    main_pid = os.getpid()

    def _terminate(signum: int, frame: Any) -> None:
        if os.getpid() != main_pid:  # a forked HTTP server re-raising the signal after its own shutdown
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the shutdown itself must not be cut short
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        built.server.run(
            host=options.host,
            port=options.port,
            log_level=options.log_level,
            num_api_servers=options.api_servers,
            generate_client_file=False,
        )
    except KeyboardInterrupt:  # during start-up; once running, LitServe handles it and returns
        pass
    except RuntimeError as err:
        if "workers failed to start" in str(err):
            raise CheckpointError(
                "an inference worker could not load the model (its traceback is above)",
                "the main process loaded it: is the device out of memory, or the accelerator wrong?",
            ) from None
        raise
    except SystemExit as exit_:  # uvicorn exits when it cannot bind
        if exit_.code not in (0, None):
            raise LightkitError(f"the server could not start on {options.host} port {options.port}") from None
    finally:
        stop.set()
        _stop_leftovers(built.server)
        signal.signal(signal.SIGTERM, previous)
    print("lightkit serve: stopped", file=sys.stderr, flush=True)
    return 0
