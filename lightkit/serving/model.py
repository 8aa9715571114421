"""The model behind ``lightkit serve``: one trained run, or a cross-validation's fold ensemble.

:class:`ServedModel` rebuilds runs with :func:`lightkit.load_run` (the checkpoint's config and
fitted preprocessing, nothing retyped), turns request rows into a batch through the data module's
``rows_to_batch`` hook, runs ``predict_step`` under ``torch.inference_mode()`` and describes the
outputs with the same columns as ``predictions.csv``. A fold ensemble averages the folds' outputs
row by row, as ``lightkit predict --ckpt_path <cv dir>`` does.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightkit.errors import CheckpointError, ConfigError, DataError, LightkitError
from lightkit.runs import CV_FILE, RUNS_ROOT
from lightkit.serving.schema import ServingSchema

if TYPE_CHECKING:
    import torch

    from lightkit.loading import Run

__all__ = ["HOOKS", "Outcome", "ServedModel", "resolve_targets"]

#: the data-module methods ``lightkit serve`` needs (see 'Serving a plugin data module' in docs/serving.md)
HOOKS = ("serving_schema", "rows_to_batch")


@dataclass
class Outcome:
    """What one request gets: its prediction columns, or the error that stops it, and warnings.

    Attributes:
        columns: Column name -> one value per row of the request.
        error: The data module's error for this request's rows (becomes a 422).
        failure: An unexpected exception (becomes a 500; the server keeps serving).
        warnings: Notes about the input (categories never seen in training, ...).
    """

    columns: dict[str, list[Any]] | None = None
    error: LightkitError | None = None
    failure: str | None = None
    warnings: list[str] = field(default_factory=list)


def _cv_folds(parent: Path) -> list[Path]:
    try:
        record = json.loads((parent / CV_FILE).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"cannot read {str(parent / CV_FILE)!r}: {err}") from None
    folds = [parent / r["run"] for r in record.get("runs", []) if isinstance(r, dict) and r.get("run")]
    missing = [str(f) for f in folds if not f.is_dir()]
    if not folds or missing:
        raise CheckpointError(
            f"cross-validation {str(parent)!r} has no complete fold runs"
            + (f" ({missing[0]} is gone)" if missing else ""),
            "train it again with `lightkit fit ... --cv.folds K`, or serve one fold's run directory.",
        )
    return folds


def resolve_targets(
    value: str, root: str | Path = RUNS_ROOT, name: str | None = None
) -> tuple[list[Path], bool]:
    """The checkpoint files ``--ckpt_path`` names, and whether they are a fold ensemble.

    Args:
        value: A ``.ckpt`` file, a run directory, ``best``/``last``, or a cross-validation parent
            directory (every fold's best checkpoint).
        root: Where ``best``/``last`` look for runs.
        name: The run ``best``/``last`` refer to.
    """
    from lightkit.checkpoints import resolve_ckpt_path

    path = Path(value)
    if value not in ("best", "last") and path.is_dir() and (path / CV_FILE).is_file():
        return [resolve_ckpt_path(str(f), root).resolve() for f in _cv_folds(path)], True
    if value in ("best", "last"):
        run = Path(root) / name if name else None
        if run is not None and (run / CV_FILE).is_file():
            return [resolve_ckpt_path(str(f), root).resolve() for f in _cv_folds(run)], True
    return [resolve_ckpt_path(value, root, name).resolve()], False


def _missing_hooks(datamodule: Any) -> list[str]:
    return [hook for hook in HOOKS if not callable(getattr(datamodule, hook, None))]


class ServedModel:
    """One or more rebuilt runs that answer request rows with named prediction columns.

    Args:
        runs: The runs (one, or one per fold of a cross-validation); they must share the data
            module class and its serving schema.
        ensemble: Whether the runs are a fold ensemble (their outputs are averaged).

    Raises:
        ConfigError: The data module has no serving hooks, or the folds disagree on the schema.
    """

    def __init__(self, runs: list[Run], ensemble: bool = False) -> None:
        first = runs[0]
        if first.datamodule is None:
            raise ConfigError(
                f"checkpoint {str(first.checkpoint_path)!r} has no data module, so lightkit serve does not "
                "know what a request row is",
                "serve a run trained with a data module (--data NAME).",
            )
        missing = _missing_hooks(first.datamodule)
        if missing:
            owner = type(first.datamodule).__name__
            raise ConfigError(
                f"data module {owner} cannot be served: it has no {' and no '.join(missing)} method",
                f"add {' and '.join(f'`{h}()`' for h in missing)} to {owner} (see 'Serving a plugin data "
                "module' in docs/serving.md); the built-in CSVDataModule and SklearnDataModule have them.",
            )
        self.runs = runs
        self.ensemble = ensemble
        self.datamodule = first.datamodule
        self.model = first.model
        self.schema = ServingSchema.from_datamodule(self.datamodule)
        for run in runs[1:]:
            if ServingSchema.from_datamodule(run.datamodule).names != self.schema.names:
                where = first.run_dir.parent if first.run_dir else first.checkpoint_path
                raise ConfigError(
                    f"the fold runs of {str(where)!r} take different request fields",
                    "were the folds trained on the same data?",
                )
        self.device = "cpu"

    @classmethod
    def load(cls, checkpoints: list[Path], ensemble: bool = False) -> ServedModel:
        """Rebuild the runs of ``checkpoints`` with :func:`lightkit.load_run` and check they can be served."""
        from lightkit.loading import load_run

        return cls([load_run(path) for path in checkpoints], ensemble)

    def to(self, device: str) -> ServedModel:
        """Move every model to ``device`` (``cpu``, ``cuda:0``, ...)."""
        for run in self.runs:
            run.model.to(device)
        self.device = device
        return self

    # -- predicting --------------------------------------------------------------------------------------
    def _outputs(self, rows: list[dict[str, Any]]) -> tuple[torch.Tensor, list[str]]:
        """The model outputs for ``rows`` (averaged over folds) and the hook's warnings about them."""
        import torch
        from lightning.fabric.utilities.apply_func import move_data_to_device

        outputs, notes = [], []
        for run in self.runs:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                batch = run.datamodule.rows_to_batch(rows)
            notes += [str(w.message) for w in caught if str(w.message) not in notes]
            batch = move_data_to_device(batch, self.device)
            with torch.inference_mode():
                raw = run.model.predict_step(batch, 0)
            outputs.append(torch.as_tensor(raw).detach().to("cpu").reshape(len(rows), -1).double())
        mean = outputs[0] if len(outputs) == 1 else torch.stack(outputs).mean(dim=0)
        return mean, notes

    def describe(self, outputs: torch.Tensor, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """The prediction columns of ``rows``: the data module's ``describe_predictions`` columns.

        The first column (the row id, as in ``predictions.csv``) is kept, under the id field's name,
        only when some row sent the id field.
        """
        dm, id_field = self.datamodule, self.schema.id_field
        sent = bool(id_field) and any(id_field in row for row in rows)
        dm.predict_ids = [row.get(id_field) for row in rows] if sent else list(range(len(rows)))
        served = getattr(dm, "describe_served", None)
        describe = getattr(dm, "describe_predictions", None)
        if callable(served):
            columns = dict(served(outputs, self.model))
        elif callable(describe):
            columns = dict(describe(outputs))
        else:
            columns = {"row": list(range(len(rows)))} | {
                f"pred_{i}": outputs[:, i].tolist() for i in range(outputs.shape[1])
            }
        ids = columns.pop(next(iter(columns)))
        return {id_field: ids, **columns} if sent else columns

    def predict(self, requests: list[list[dict[str, Any]]]) -> list[Outcome]:
        """Predict the rows of several requests in one batch; a request that fails fails alone.

        All rows go through ``rows_to_batch`` and the model together. If that raises, or warns
        while there are several requests, each request is predicted on its own, so that errors and
        warnings reach the request they belong to.
        """
        rows = [row for request in requests for row in request]
        try:
            outputs, notes = self._outputs(rows)
        except Exception:  # noqa: BLE001 - found again below, request by request
            outputs, notes = None, []
        if outputs is None or (notes and len(requests) > 1):
            return [self._predict_one(request) for request in requests]
        results, start = [], 0
        for request in requests:
            part = outputs[start : start + len(request)]
            results.append(Outcome(columns=self.describe(part, request), warnings=notes))
            start += len(request)
        return results

    def _predict_one(self, rows: list[dict[str, Any]]) -> Outcome:
        try:
            outputs, notes = self._outputs(rows)
            return Outcome(columns=self.describe(outputs, rows), warnings=notes)
        except DataError as err:
            return Outcome(error=err)
        except Exception as err:  # noqa: BLE001 - a bug for this request only; logged by the caller
            return Outcome(failure=f"{type(err).__name__}: {err}")

    # -- what /info shows ----------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Model, run, checkpoint(s), versions, the request schema and the label names."""
        from importlib.metadata import PackageNotFoundError, version

        def _version(dist: str) -> str | None:
            try:
                return version(dist)
            except PackageNotFoundError:
                return None

        first = self.runs[0]
        run_dir = first.run_dir
        if self.ensemble and run_dir is not None:
            run_name = run_dir.parent.name
        else:
            run_name = run_dir.name if run_dir is not None else None
        return {
            "model": type(self.model).__name__,
            "data": type(self.datamodule).__name__,
            "run": run_name,
            "checkpoint": [_shown(r.checkpoint_path) for r in self.runs]
            if self.ensemble
            else _shown(first.checkpoint_path),
            "ensemble": len(self.runs) if self.ensemble else None,
            "epochs_trained": first.epoch + 1 if first.epoch is not None else None,
            "task": ((first.config.get("model") or {}).get("init_args") or {}).get("task"),
            "labels": self.schema.labels,
            "id_field": self.schema.id_field,
            "features": self.schema.as_json()["fields"],
            "versions": {
                name: _version(name) for name in ("lightkit", "torch", "lightning", "litserve", "pydantic")
            },
        }


def _shown(path: Path) -> str:
    """A path relative to the current directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
