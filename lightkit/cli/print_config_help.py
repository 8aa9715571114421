"""The help of ``--print_config``: jsonargparse's text names its own flags, lightkit adds ``sources``."""

from __future__ import annotations

from typing import Any

__all__ = ["PRINT_CONFIG_HELP", "describe_print_config"]

#: what ``fit --help`` says about ``--print_config`` (flags: :data:`lightkit.cli.argv.PRINT_CONFIG_FLAGS`)
PRINT_CONFIG_HELP = (
    "Print the configuration after applying all other arguments and exit. The optional flags, "
    "separated by commas, are: skip_default (leave out values equal to their default), skip_unset "
    "(only the values that were set), sources (a table of every value and where it came from: "
    "default, checkpoint, config file or flag; with skip_default, only those not from a default)."
)


def describe_print_config(parser: Any) -> None:
    """Give ``parser``'s ``--print_config`` option lightkit's help text (it takes ``sources`` too)."""
    for action in getattr(parser, "_actions", []):
        if "--print_config" in getattr(action, "option_strings", ()):
            action.help = PRINT_CONFIG_HELP
