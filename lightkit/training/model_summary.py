"""``RunModelSummary``: Lightning's rich model summary, with FLOPs but without the size columns.

Lightning counts FLOPs (and fills "In sizes" and "Out sizes") only for a model with an
``example_input_array``; TabularMLP sets one of one row, so "FLOPs" is the cost of one row's
forward pass. The two size columns would squeeze the table past 80 columns in a log, cutting off
the layer types; they are left out.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import RichModelSummary

__all__ = ["RunModelSummary"]

_LEFT_OUT = ("In sizes", "Out sizes")


class RunModelSummary(RichModelSummary):
    """The model summary of a lightkit run: name, type, parameters, mode and FLOPs of each layer."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], *args: Any, **kwargs: Any) -> None:
        """Print the summary without the input and output size columns."""
        kept = [(name, values) for name, values in summary_data if name not in _LEFT_OUT]
        RichModelSummary.summarize(kept, *args, **kwargs)
