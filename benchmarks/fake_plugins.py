"""Generated plugin distributions, for measuring how discovery scales with what is installed.

Each distribution is what ``pip install`` leaves behind for a small plugin package: a
``<name>.dist-info`` directory with ``METADATA`` and an ``entry_points.txt`` registering one model
and one data module, and the package itself. They go into one directory that is put on
``PYTHONPATH``, which ``importlib.metadata`` scans like site-packages.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_fake_plugins"]

_MODULE = '''"""Generated benchmark plugin {index}."""

import lightning.pytorch as pl


class BenchModel{index}(pl.LightningModule):
    """A generated model that is never trained."""


class BenchData{index}(pl.LightningDataModule):
    """A generated data module that is never loaded."""
'''


def write_fake_plugins(directory: Path, count: int) -> Path:
    """Write ``count`` plugin distributions into ``directory`` (created, reused if complete)."""
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / ".complete"
    if done.exists() and done.read_text() == str(count):
        return directory
    for index in range(count):
        name = f"lightkit_bench_plugin_{index}"
        package = directory / name
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text(_MODULE.format(index=index))
        info = directory / f"{name}-0.1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
        (info / "entry_points.txt").write_text(
            f"[lightkit.models]\nBenchModel{index} = {name}:BenchModel{index}\n\n"
            f"[lightkit.datamodules]\nBenchData{index} = {name}:BenchData{index}\n"
        )
        (info / "top_level.txt").write_text(name + "\n")
        (info / "RECORD").write_text("")
        (info / "INSTALLER").write_text("benchmark\n")
    done.write_text(str(count))
    return directory
