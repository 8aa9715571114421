"""Shared fixtures: run the CLI in-process, in a temporary working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Lightning binds its log handler to the stderr that exists when it is first imported; import it
# here, outside any test's output capture, so that later tests do not log into a closed stream.
import lightning.pytorch  # noqa: F401, E402

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


def run_subprocess(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, **kwargs) -> Result:
    """Run ``python -m lightkit ARGS`` in a real process."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "lightkit", *args], cwd=cwd, env=full_env, capture_output=True, text=True, **kwargs
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


FAST = ("--trainer.fast_dev_run", "true")
TINY = ("--trainer.max_epochs", "2", "--trainer.enable_model_summary", "false")
