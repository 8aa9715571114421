"""lightkit: train and serve PyTorch Lightning models from YAML, with plugins found through entry points.

Importing ``lightkit`` imports neither torch nor Lightning; the names that need them load on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightkit.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    LightkitError,
    PluginBroken,
    PluginCollision,
    PluginError,
    PluginNotFound,
    UsageError,
)
from lightkit.registry import Plugin, list_plugins

if TYPE_CHECKING:
    from lightkit.cli.lightkit_cli import LightkitCLI
    from lightkit.data.in_memory import InMemoryDataModule
    from lightkit.data.tensor_loader import TensorBatchLoader
    from lightkit.export.runtime import onnx_predictor
    from lightkit.loading import Run, load_run

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "InMemoryDataModule",
    "LightkitCLI",
    "LightkitError",
    "Plugin",
    "PluginBroken",
    "PluginCollision",
    "PluginError",
    "PluginNotFound",
    "Run",
    "TensorBatchLoader",
    "UsageError",
    "list_plugins",
    "load_run",
    "main",
    "onnx_predictor",
]

_LAZY = {
    "LightkitCLI": "lightkit.cli.lightkit_cli",
    "InMemoryDataModule": "lightkit.data.in_memory",
    "TensorBatchLoader": "lightkit.data.tensor_loader",
    "main": "lightkit.cli",
    "load_run": "lightkit.loading",
    "Run": "lightkit.loading",
    "onnx_predictor": "lightkit.export.runtime",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "__version__":
        from importlib.metadata import version

        return version("lightkit")
    raise AttributeError(f"module 'lightkit' has no attribute {name!r}")
