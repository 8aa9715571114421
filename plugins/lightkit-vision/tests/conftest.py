"""Run the lightkit CLI in-process, in a temporary working directory, as a user would type it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch  # noqa: F401
import pytest

# Lightning's log handler keeps the stderr it finds when first imported: import it here, before
# any capsys, so that it never writes to a stream that a finished test has closed.


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def lightkit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Call ``lightkit ARGS`` in-process from a fresh directory; returns exit code, stdout and stderr."""
    from lightkit.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
