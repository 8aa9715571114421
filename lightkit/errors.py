"""The errors lightkit raises for bad input, rendered as a few lines and an exit code.

The tree::

    LightkitError                 exit 1 unless said otherwise
    ├── UsageError                exit 2: the command line or a config is wrong
    │   ├── ConfigError           a config key or value is wrong
    │   └── PluginError           a short name cannot be used
    │       ├── PluginNotFound    no plugin of that kind has that name
    │       ├── PluginCollision   two distributions offer the same name
    │       └── PluginBroken      the plugin fails to import or is the wrong kind
    ├── DataError                 a data file cannot be used as it is
    └── CheckpointError           a checkpoint cannot be found, read or trusted

Every error carries a one-line ``message``, an optional ``hint`` that says what to do
next, and the ``exit_code`` the CLI ends with. Catch the base class::

    try:
        main(["fit", "--model", "TabularMPL"])
    except LightkitError as err:
        print(err.message, err.hint)

This module imports only the standard library.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "LightkitError",
    "PluginBroken",
    "PluginCollision",
    "PluginError",
    "PluginNotFound",
    "UsageError",
]


class LightkitError(Exception):
    """A problem with the user's input, reported without a traceback.

    Args:
        message: One line naming the bad value and where it came from.
        hint: What would be valid, or what to do next.
    """

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class UsageError(LightkitError):
    """The command line or a config is wrong (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config key or value is wrong."""


class PluginError(UsageError):
    """A plugin name cannot be used."""


class PluginNotFound(PluginError):
    """No plugin of the requested kind has that name."""


class PluginCollision(PluginError):
    """Two distributions register the same short name."""


class PluginBroken(PluginError):
    """A plugin fails to import, or its object is not the right kind of class."""


class DataError(LightkitError):
    """A data file cannot be used as it is."""


class CheckpointError(LightkitError):
    """A checkpoint cannot be found, read or trusted."""


for _name in __all__:
    globals()[_name].__module__ = "lightkit"
