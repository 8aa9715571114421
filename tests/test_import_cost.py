"""Commands that do not train import neither torch nor any plugin module (checked with sys.modules)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from lightkit.cli import main
code = main({args!r})
heavy = sorted(m for m in ("torch", "lightning", "lightning.pytorch", "lightkit.components.tabular_mlp") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def modules_loaded_by(args: list[str]) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True)
    heavy = proc.stderr.strip().splitlines()[-1]
    return proc.returncode, heavy


@pytest.mark.parametrize("args", [["--help"], [], ["--version"]])
def test_top_level_help_imports_no_torch(args):
    code, heavy = modules_loaded_by(args)
    assert code == 0
    assert heavy == "HEAVY="
