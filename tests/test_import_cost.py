"""Commands that do not train import neither torch nor any plugin module (checked with sys.modules).

Each probe runs in a fresh interpreter with fake plugin distributions installed beside lightkit
(a broken one, a slow one and two that clash; see tests/fixtures/plugins), so that any import of
a plugin module during discovery, listing or completion shows up in ``sys.modules``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).parent / "fixtures" / "plugins"

PROBE = """
import sys
from lightkit.cli import main
code = main({args!r})
roots = ("torch", "lightning", "pytorch_lightning", "lightkit_fake_broken", "lightkit_fake_wrongkind",
         "lightkit_fake_slow", "lightkit_clash_a", "lightkit_clash_b")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in roots or m.startswith("lightkit.components"))
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def modules_loaded_by(args: list[str]) -> tuple[int, str, str]:
    path = os.pathsep.join([str(FAKES / "broken"), str(FAKES / "slow"), str(FAKES / "clash")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, env=env
    )
    heavy = proc.stderr.strip().splitlines()[-1]
    return proc.returncode, heavy, proc.stdout


@pytest.mark.parametrize("args", [["--help"], [], ["--version"]])
def test_top_level_help_imports_no_torch(args):
    code, heavy, _ = modules_loaded_by(args)
    assert code == 0
    assert heavy == "HEAVY="


@pytest.mark.parametrize(
    "args",
    [
        ["plugins", "list"],
        ["plugins", "list", "--json"],
        ["plugins", "list", "--names", "--kind", "models"],
        ["plugins", "--help"],
        ["completion", "bash"],
        ["completion", "zsh"],
        ["completion", "__complete", "3", "lightkit", "fit", "--model", ""],
        ["completion", "__complete", "2", "lightkit", "fit", "--trainer.callbacks+="],
    ],
)
def test_listing_and_completion_import_neither_torch_nor_plugins(args):
    code, heavy, out = modules_loaded_by(args)
    assert code == 0
    assert heavy == "HEAVY="
    assert out.strip()


def test_the_installed_fakes_are_seen_by_the_probe():
    """The probe's plugins are really installed: listing shows them, only reading their metadata."""
    code, heavy, out = modules_loaded_by(["plugins", "list", "--names"])
    assert code == 0 and heavy == "HEAVY="
    assert {"SlowNet", "BrokenNet", "TwinNet", "TabularMLP"} <= set(out.split())
