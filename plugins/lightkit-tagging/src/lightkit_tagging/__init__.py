"""lightkit-tagging: multi-label auto-tagging as a lightkit plugin.

``TaggingMLP`` (model) and ``TagTableDataModule`` (data) live in their own modules, which lightkit
imports only when a command selects them; importing this package imports neither.
"""

__all__: list[str] = []
