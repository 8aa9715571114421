"""``lightkit serve``: an HTTP prediction server for a trained run, on LitServe.

A request carries raw rows, with the column names of training; the fitted preprocessing from
the checkpoint turns them into a batch, and the response carries the columns of
``predictions.csv``. The model is rebuilt with :func:`lightkit.load_run` in each LitServe worker.

The serving protocol
--------------------
A data module is served when it has two methods (the built-in table modules have them)::

    def serving_schema(self) -> dict:
        \"\"\"{"fields": {name: {"type": "number", ...}, ...}, "id_field": str | None, "labels": [...]}\"\"\"

    def rows_to_batch(self, rows: list[dict]) -> Any:
        \"\"\"The batch ``predict_step`` takes for validated rows (raise DataError for bad ones).\"\"\"

The response columns come from ``describe_predictions(outputs)``, as for ``predictions.csv``
(or from ``describe_served(outputs, model)`` when the data module has it). See docs/serving.md.

This package imports LitServe, FastAPI and pydantic; :mod:`lightkit.cli.serve` imports it only
when a server is started.
"""

from lightkit.serving.model import HOOKS, Outcome, ServedModel, resolve_targets
from lightkit.serving.server import ServeOptions, build_server, serve

__all__ = ["HOOKS", "Outcome", "ServeOptions", "ServedModel", "build_server", "resolve_targets", "serve"]
