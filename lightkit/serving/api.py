"""``LightkitAPI``: the LitServe ``LitAPI`` that serves a lightkit run.

LitServe runs :meth:`LightkitAPI.setup` in each spawned inference worker, which rebuilds the run
there with :func:`lightkit.load_run`. Requests are validated before they reach a worker: the
request and response models (built from the data module's serving schema in the main process)
become the type hints of ``decode_request`` and ``encode_response``, which is how LitServe hands
them to FastAPI. Those models exist only in the main process and the HTTP servers it forks, so
they are left out when the API is pickled for a worker, and validated requests travel as plain
data.
"""

from __future__ import annotations

import logging
import math
import secrets
import signal
from pathlib import Path
from typing import Any

import litserve as ls
from fastapi import HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from lightkit.serving.model import Outcome, ServedModel

__all__ = ["LightkitAPI"]

logger = logging.getLogger("lightkit.serve")

#: instance attributes that exist in the main process only (not pickled for the workers)
_MAIN_ONLY = ("decode_request", "encode_response", "authorize", "served")


class LightkitAPI(ls.LitAPI):
    """Predicts request rows with a rebuilt lightkit run (or a fold ensemble).

    Args:
        checkpoints: The checkpoint files (one, or one per fold).
        ensemble: Whether ``checkpoints`` are the folds of a cross-validation (outputs averaged).
        request_model: The pydantic model of a request (see :mod:`lightkit.serving.schema`).
        response_model: The pydantic model of a response, for ``/docs`` and ``/openapi.json``.
        api_key: When set, every endpoint but ``/health``, ``/docs`` and ``/openapi.json`` needs it
            in the ``X-API-Key`` header.
        max_batch_size: Most requests LitServe gathers into one batch.
        batch_timeout: Seconds LitServe waits for a batch to fill.
        threads: torch's intra-op threads in each worker; 0 leaves torch's default (every core).
    """

    def __init__(
        self,
        checkpoints: list[Path],
        ensemble: bool = False,
        request_model: Any = None,
        response_model: Any = None,
        api_key: str | None = None,
        max_batch_size: int = 1,
        batch_timeout: float = 0.0,
        threads: int = 1,
    ) -> None:
        from lightkit.serving.loop import batched_loop

        loop = batched_loop() if max_batch_size > 1 else "auto"
        super().__init__(
            max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path="/predict", loop=loop
        )
        self.checkpoints = [str(p) for p in checkpoints]
        self.ensemble = ensemble
        self.threads = threads
        if request_model is not None:
            self.decode_request = _typed_decode(self, request_model)
        if response_model is not None:
            self.encode_response = _typed_encode(self, response_model)
        if api_key:
            self.authorize = _key_check(api_key)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _MAIN_ONLY}

    # -- in each inference worker ------------------------------------------------------------------------
    def setup(self, device: str) -> None:
        """Rebuild the run(s) on ``device`` (called once per worker, in the worker)."""
        # Ctrl-C reaches every process of the terminal's group. The worker leaves it to the main
        # process, which stops the HTTP servers first (they answer the requests in flight, which
        # needs this worker) and then terminates the workers.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.threads > 0:
            import torch

            # several threads per worker fight over the cores with the other workers and HTTP
            # servers; for small models one thread per worker is faster, and workers scale out
            torch.set_num_threads(self.threads)
        self.served = ServedModel.load([Path(p) for p in self.checkpoints], self.ensemble).to(device)
        # the first call of a model is slow (allocations, kernels chosen): pay it before /health is 200
        self.served.predict([[self.served.schema.example_row()]])

    def decode_request(self, request: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """The request's rows (already validated by the HTTP server)."""
        return list(request["rows"] if isinstance(request, dict) else request.rows)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        """One outcome per request; with batching, ``x`` holds the rows of several requests."""
        if self.max_batch_size > 1:
            return self.served.predict(list(x))
        return self.served.predict([x])[0]

    def encode_response(self, output: Outcome, **kwargs: Any) -> Any:
        """The JSON response: the predictions, or the error of this request only."""
        if output.error is not None:
            content = {
                "error": output.error.message,
                "detail": [{"type": "data_error", "message": output.error.message}],
            }
            if output.error.hint:
                content["hint"] = output.error.hint
            return JSONResponse(content, status_code=422)
        if output.failure is not None or output.columns is None:
            logger.error("predicting a request failed: %s", output.failure)
            return JSONResponse(
                {"error": "internal error while predicting; see the server log"}, status_code=500
            )
        columns = output.columns
        count = len(next(iter(columns.values()), []))
        rows = [{name: _finite(values[i]) for name, values in columns.items()} for i in range(count)]
        # encoded here, in the worker: the response model documents this shape in /openapi.json
        return JSONResponse({"predictions": rows, "warnings": output.warnings})


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _typed_decode(api: LightkitAPI, request_model: Any) -> Any:
    def decode_request(request: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return LightkitAPI.decode_request(api, request, **kwargs)

    # real classes, not the strings `from __future__ import annotations` would leave: LitServe
    # gives these annotations to FastAPI as the endpoint's request type
    decode_request.__annotations__ = {"request": request_model, "return": list}
    return decode_request


def _typed_encode(api: LightkitAPI, response_model: Any) -> Any:
    def encode_response(output: Any, **kwargs: Any) -> Any:
        return LightkitAPI.encode_response(api, output, **kwargs)

    encode_response.__annotations__ = {"output": Outcome, "return": response_model}
    return encode_response


def _key_check(api_key: str) -> Any:
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's API key.")

    def authorize(request: Any, x_api_key: Any = Security(header)) -> None:  # noqa: B008 - FastAPI's way
        if request.url.path == "/health":  # for load balancers and probes; it tells nothing but "ok"
            return
        if x_api_key is None or not secrets.compare_digest(str(x_api_key).encode(), api_key.encode()):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong X-API-Key header: this server was started with an API key",
            )

    authorize.__annotations__ = {"request": Request, "x_api_key": str | None, "return": None}
    return authorize
