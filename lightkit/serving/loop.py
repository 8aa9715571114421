"""The inference loop of a batching ``lightkit serve`` worker: LitServe's, without its polling.

LitServe's batched loop collects a batch by asking its request queue for an item every
millisecond, and starts again as soon as a window closes, so an idle worker and LitServe's
manager process keep a CPU core busy between them. :class:`WaitingBatchedLoop` waits for the
first request of a batch (blocking, as the unbatched loop does), takes what is already queued,
and waits at most ``batch_timeout`` after that first request for the batch to fill. Everything
else (decode, batch, predict, unbatch, encode, errors) is LitServe's ``BatchedLoop``.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from litserve.loops.simple_loops import BatchedLoop
from litserve.utils import LitAPIStatus, LoopResponseType

try:  # LitServe's own names for "stop the loop"; without them, its polling loop is used
    from litserve.loops.base import _SENTINEL_VALUE, _StopLoopError
except ImportError:  # pragma: no cover - another LitServe version
    _SENTINEL_VALUE = _StopLoopError = None

__all__ = ["WaitingBatchedLoop", "batched_loop"]

#: how long one blocking wait for a first request lasts before the loop looks again
_IDLE_WAIT_S = 1.0


class WaitingBatchedLoop(BatchedLoop):
    """LitServe's ``BatchedLoop``, collecting each batch with blocking waits instead of polling."""

    def get_batch_requests(self, lit_api: Any, request_queue: Any, transport: Any) -> tuple[list, list]:
        """Up to ``max_batch_size`` requests: the first one waited for, the rest within ``batch_timeout``."""
        payloads: list[tuple[Any, Any, Any]] = []
        timed_out: list[tuple[Any, Any]] = []
        try:
            item = request_queue.get(timeout=_IDLE_WAIT_S)
        except Empty:
            return payloads, timed_out
        deadline = time.monotonic() + lit_api.batch_timeout
        apply_timeout = lit_api.request_timeout not in (-1, False, None)
        while True:
            if item == _SENTINEL_VALUE:
                raise _StopLoopError()
            response_queue_id, uid, timestamp, x_enc = item
            self.put_response(
                transport, response_queue_id, uid, (), LitAPIStatus.START, LoopResponseType.REGULAR
            )
            if apply_timeout and time.monotonic() - timestamp > lit_api.request_timeout:
                timed_out.append((response_queue_id, uid))
            else:
                payloads.append((response_queue_id, uid, x_enc))
            if len(payloads) >= lit_api.max_batch_size:
                break
            try:
                item = request_queue.get_nowait()
            except Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = request_queue.get(timeout=remaining)
                except Empty:
                    break
        return payloads, timed_out


def batched_loop() -> Any:
    """The loop for ``--max_batch_size`` above 1: ours, or LitServe's own (``"auto"``) if its names moved."""
    return WaitingBatchedLoop() if _StopLoopError is not None else "auto"
