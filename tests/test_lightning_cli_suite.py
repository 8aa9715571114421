"""Lightning's own LightningCLI test suite, with ``LightkitCLI`` put in ``LightningCLI``'s place.

This is the measure of "a drop-in LightningCLI": ``../shared/lightning-cli-suite`` holds
Lightning 2.6.5's ``test_cli.py`` unchanged and a runner that substitutes a class (see its
README). A faithful subclass fails only the one name-only test that any renamed subclass fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

SUITE = REPO.parent / "shared" / "lightning-cli-suite"


@pytest.mark.slow
@pytest.mark.skipif(not (SUITE / "run.sh").is_file(), reason=f"Lightning's CLI suite is not at {SUITE}")
def test_lightkit_cli_passes_lightnings_own_cli_suite(tmp_path: Path):
    proc = subprocess.run(
        ["bash", str(SUITE / "run.sh"), sys.executable, "lightkit.cli.lightkit_cli:LightkitCLI"],
        env={**os.environ, "OUT": str(tmp_path)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    log = proc.stdout[-3000:] + proc.stderr[-2000:]
    beyond = (tmp_path / "failed_beyond_passthrough.txt").read_text().split()
    assert beyond == [], f"LightkitCLI fails tests a plain LightningCLI subclass passes:\n{log}"
    assert proc.stdout.strip().splitlines()[-1] == "passed 82 failed 1 skipped 1 errors 0", log
