"""Shared fixtures: run the CLI in-process, in a temporary working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Lightning binds its log handler to the stderr that exists when it is first imported; import it
# here, outside any test's output capture, so that later tests do not log into a closed stream.
import lightning.pytorch  # noqa: F401, E402
import pytest

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory, so that runs/ lands in a temporary place."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def lightkit(workdir: Path, capsys: pytest.CaptureFixture[str]):
    """Call ``lightkit ARGS`` in-process; returns exit code, stdout and stderr."""
    from lightkit.cli import main

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_subprocess(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, **kwargs: object
) -> Result:
    """Run ``python -m lightkit ARGS`` in a real process."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "lightkit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        **kwargs,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


FAST = ("--trainer.fast_dev_run", "true")
TINY = ("--trainer.max_epochs", "2", "--trainer.enable_model_summary", "false")


#: fake distributions (a *.dist-info folder and a module each): broken, wrong kind, slow, clashing
FAKE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
FAKE_MODULES = (
    "lightkit_fake_broken",
    "lightkit_fake_wrongkind",
    "lightkit_fake_slow",
    "lightkit_clash_a",
    "lightkit_clash_b",
)


@pytest.fixture
def fake_plugins():
    """Put fake distributions from tests/fixtures/plugins/<name> on sys.path, as `pip install` would."""
    import importlib

    from lightkit import registry

    added: list[str] = []

    def install(*names: str) -> None:
        for name in names:
            added.append(str(FAKE_PLUGINS / name))
            sys.path.insert(0, added[-1])
        importlib.invalidate_caches()
        registry.refresh()

    yield install
    for path in added:
        sys.path.remove(path)
    for module in FAKE_MODULES:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()
    registry.refresh()


@pytest.fixture(autouse=True)
def _help_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty help cache of its own (lightkit.cli.help_cache), never ~/.cache,
    and completion starts no background process to fill it."""
    directory = tmp_path_factory.mktemp("lightkit-cache")
    monkeypatch.setenv("LIGHTKIT_CACHE_DIR", str(directory))
    monkeypatch.setenv("LIGHTKIT_COMPLETION_WARM", "0")
    monkeypatch.delenv("LIGHTKIT_HELP_CACHE", raising=False)
    return directory
