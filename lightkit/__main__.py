"""``python -m lightkit``."""

from lightkit.cli import entry_point

entry_point()
