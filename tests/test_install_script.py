"""scripts/install.sh: where torch comes from, and what the main job installs, without a network.

The scripts run against a stand-in ``python`` (and ``uname``, ``nvidia-smi``) on ``PATH`` that
answers ``python -m pip config list`` as told and records every ``python -m pip install``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

CPU_INDEX = "https://download.pytorch.org/whl/cpu"

FAKE_PYTHON = """#!/usr/bin/env bash
if [ "$1 $2 $3 $4" = "-m pip config list" ]; then
    printf '%s' "$FAKE_PIP_CONFIG"
    exit 0
fi
if [ "$1 $2 $3" = "-m pip install" ]; then
    shift 3
    printf '%s\\n' "$*" >> "$FAKE_PIP_LOG"
    exit 0
fi
echo "unexpected: python $*" >&2
exit 2
"""


def _tool(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)


def install(tmp_path: Path, *args: str, config: str = "", system: str = "Linux", gpu: bool = False,
            **env: str) -> tuple[list[str], str]:  # fmt: skip
    """Run scripts/install.sh ARGS with the stand-ins; returns the pip install commands and stderr."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _tool(bin_dir, "python", FAKE_PYTHON)
    _tool(bin_dir, "uname", f"#!/usr/bin/env bash\necho {system}\n")
    # shadows a real one: without a GPU, nvidia-smi (where installed at all) finds no device
    found = "echo 'GPU 0: NVIDIA H100 (UUID: GPU-0)'" if gpu else "echo 'No devices were found' >&2; exit 6"
    _tool(bin_dir, "nvidia-smi", f"#!/usr/bin/env bash\n{found}\n")
    log = tmp_path / "pip.log"
    log.unlink(missing_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "LIGHTKIT_TORCH_INDEX"}
    tools = os.pathsep.join(str(Path(shutil.which(t)).parent) for t in ("bash", "grep", "cat"))
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "install.sh"), *args],
        env={**clean, "PATH": f"{bin_dir}{os.pathsep}{tools}", "FAKE_PIP_CONFIG": config,
             "FAKE_PIP_LOG": str(log), **env},  # fmt: skip
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return log.read_text().splitlines(), proc.stderr


def test_without_a_gpu_on_linux_torch_is_the_cpu_build(tmp_path: Path):
    commands, err = install(tmp_path)
    assert commands[0] == f"--quiet --disable-pip-version-check --index-url {CPU_INDEX} torch==2.13.0"
    assert f"the CPU build from {CPU_INDEX}" in err


def test_a_configured_package_source_is_left_to_choose(tmp_path: Path):
    """A machine whose pip has a local wheel folder or a mirror gets torch from there, as before."""
    for config in ("global.find-links='/opt/wheels'\n", "global.index-url='https://mirror.example/simple'\n",
                   ":env:.extra-index-url='file:///opt/pypi/simple'\n"):  # fmt: skip
        commands, err = install(tmp_path, config=config)
        assert commands[0] == "--quiet --disable-pip-version-check torch==2.13.0", config
        assert "package source pip is configured with" in err
    commands, _ = install(tmp_path, PIP_FIND_LINKS="/opt/wheels")
    assert "--index-url" not in commands[0]
    unrelated, _ = install(tmp_path, config="global.cert='/etc/ssl/certs/ca-certificates.crt'\n")
    assert CPU_INDEX in unrelated[0]


def test_a_gpu_or_another_system_gets_pypis_torch(tmp_path: Path):
    assert install(tmp_path, gpu=True)[0][0] == "--quiet --disable-pip-version-check torch==2.13.0"
    for system in ("Darwin", "MINGW64_NT-10.0"):
        assert "--index-url" not in install(tmp_path, system=system)[0][0]


def test_lightkit_torch_index_overrides(tmp_path: Path):
    cuda = "https://download.pytorch.org/whl/cu126"
    assert install(tmp_path, LIGHTKIT_TORCH_INDEX=cuda)[0][0].endswith(f"--index-url {cuda} torch==2.13.0")
    assert install(tmp_path, config="global.find-links='/w'\n", LIGHTKIT_TORCH_INDEX=cuda)[0][0].endswith(
        f"--index-url {cuda} torch==2.13.0"
    )
    assert "--index-url" not in install(tmp_path, LIGHTKIT_TORCH_INDEX="")[0][0]


def test_the_main_job_installs_no_extras_and_the_test_command_all(tmp_path: Path):
    commands, _ = install(tmp_path)
    assert commands[1] == "--quiet --disable-pip-version-check -e ."
    commands, _ = install(tmp_path, "test,sweep")
    assert commands[1] == "--quiet --disable-pip-version-check -e .[test,sweep]"
    demo = (REPO / "scripts" / "demo.sh").read_text()
    assert "bash scripts/install.sh\n" in demo  # the main job: no extras
    test = (REPO / "scripts" / "test.sh").read_text()
    extras = next(line for line in test.splitlines() if line.startswith("bash scripts/install.sh "))
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(shlex.split(extras)[2].split(",")) == set(declared)  # the suite tests every extra


def test_on_this_machine_a_configured_wheel_source_keeps_being_used():
    """Where pip here is configured with a package source, install.sh adds no index of its own."""
    config = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    ).stdout
    configured = any(f".{key}=" in config for key in ("index-url", "extra-index-url", "find-links"))
    variables = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")
    configured = configured or any(os.environ.get(k) for k in variables)
    if not configured:
        pytest.skip("pip has no package source configured here")
    env = {k: v for k, v in os.environ.items() if k != "LIGHTKIT_TORCH_INDEX"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "torch_source.sh")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
