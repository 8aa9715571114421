"""A module imported on first attribute access, to keep heavy imports out of start-up.

pandas and scikit-learn cost about 0.45 s on top of Lightning's import; the built-in data
modules need them only when they read data, not when ``--help`` or ``--print_config`` inspects
their signatures. Annotations that name them stay strings (``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule"]


class LazyModule:
    """Stands for ``module_name``; the first access to a public attribute imports it.

    Args:
        module_name: The module to import, e.g. ``"pandas"``.
    """

    def __init__(self, module_name: str) -> None:
        self._module_name = module_name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and self._module is None:
            # introspection (jsonargparse probes globals for ``__args__``) must not trigger the import
            raise AttributeError(attribute)
        if self._module is None:
            self._module = importlib.import_module(self._module_name)
        return getattr(self._module, attribute)
