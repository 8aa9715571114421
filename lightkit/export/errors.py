"""``ExportError``: a trained run that cannot be exported, or whose export disagrees with it.

It is a :class:`~lightkit.LightkitError` (exit code 1), rendered like every other lightkit error: a
line naming what failed and where, and a hint with what to do. Standard library only.
"""

from __future__ import annotations

from typing import Literal

from lightkit.errors import LightkitError

__all__ = ["ExportError", "Stage"]

#: where an export failed: the data module describes no preprocessing (``data``), torch.export cannot
#: trace the model (``trace``), an operation has no ONNX translation (``convert``), the ONNX model
#: disagrees with the checkpoint (``parity``), or the files cannot be written (``write``)
Stage = Literal["data", "trace", "convert", "parity", "write"]


class ExportError(LightkitError):
    """A run cannot be exported to ONNX, or its export does not reproduce the checkpoint.

    Args:
        message: One line naming what failed and where.
        hint: What to do next (the fallback flag, the hook to add, ...).
        stage: Where the export failed (see :data:`Stage`).
        operation: The operation that failed, when one is known (``aten.linalg_eig``, ...).
        details: Lines printed before the error (the parity report of a failed check).
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        stage: Stage,
        operation: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.stage: Stage = stage
        self.operation = operation
        self.details = list(details or [])


ExportError.__module__ = "lightkit.export"
