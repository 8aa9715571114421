"""docs/from-lightningcli.md, run as written: a LightningCLI script swapped to LightkitCLI."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

PAGE = REPO / "docs" / "from-lightningcli.md"


def _files(text: str) -> dict[str, str]:
    return dict(re.findall(r'```python title="([^"]+)"\n(.*?)\n```', text, flags=re.S))


def _commands(text: str) -> list[str]:
    block = re.search(r"```bash\n(.*?)\n```", text, flags=re.S)
    assert block, "the page shows its commands in a ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.slow
def test_the_documented_swap_trains_with_the_script_and_predicts_with_lightkit(tmp_path: Path):
    text = PAGE.read_text()
    for name, body in _files(text).items():
        (tmp_path / name).write_text(body + "\n")
    assert "from lightkit import LightkitCLI" in (tmp_path / "train.py").read_text()
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    for command in _commands(text):
        argv = shlex.split(command)
        argv[0] = sys.executable if argv[0] == "python" else str(bindir / argv[0])
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
    # LightningCLI's own layout: logs, config and checkpoint under lightning_logs/version_0
    version = tmp_path / "lightning_logs" / "version_0"
    assert (version / "config.yaml").is_file() and list((version / "checkpoints").glob("*.ckpt"))
    assert not (tmp_path / "runs").exists()
    with open(tmp_path / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 64  # one per input row of the data module
