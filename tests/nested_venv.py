"""Fresh virtual environments for tests that pip-install a package, as a user would.

A nested environment must see exactly the packages of the environment that runs the tests, and
nothing else. ``python -m venv --system-site-packages`` does not give that: when the tests run in
a venv, "system" means the *base* interpreter's site-packages (on a fresh machine: an old
setuptools and no ``wheel``, so ``pip install --no-build-isolation`` fails with ``invalid command
'bdist_wheel'``), and the outer venv's own packages are not seen at all.

So the nested venv is created isolated, ``--without-pip``, and a ``.pth`` file in its
site-packages calls ``site.addsitedir`` on each site directory of the running environment, in
the order of its ``sys.path``. ``addsitedir`` (not a bare path line) also processes the ``.pth``
files found there, so editable installs such as lightkit's own work. The same holds for a base
interpreter, a venv (with or without system site-packages) and a conda environment. The nested
venv's own site-packages comes first, so whatever pip installs there stays there and never
reaches the running environment.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

#: setuptools ships ``bdist_wheel`` itself from 70.1 on; before that it needs the ``wheel`` package
SETUPTOOLS_WITH_BDIST_WHEEL = (70, 1)

#: printed by an interpreter: its distributions, and where a few modules the tests rely on live
_PROBE = """
import importlib.metadata, importlib.util, json, sys
dists = sorted({(str(d.metadata["Name"]), d.version) for d in importlib.metadata.distributions()})
origins = {m: getattr(importlib.util.find_spec(m), "origin", None) for m in sys.argv[1:]}
print(json.dumps({"distributions": dists, "origins": origins}))
"""
_MODULES = ("lightkit", "pip", "setuptools", "torch", "pytest")


def clean_env() -> dict[str, str]:
    """This process's environment without PYTHONPATH, so that a child sees only its site dirs."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def outer_site_dirs() -> list[str]:
    """The site directories of the running environment, in the order of its ``sys.path``."""
    candidates = set(site.getsitepackages())
    candidates |= {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    if site.ENABLE_USER_SITE:
        candidates.add(site.getusersitepackages())
    seen: list[str] = []
    for entry in sys.path:
        if entry in candidates and entry not in seen and os.path.isdir(entry):
            seen.append(entry)
    return seen


def require_build_tools() -> None:
    """Fail with the fix when this environment cannot build a package without build isolation."""
    missing = [tool for tool in ("pip", "setuptools") if importlib.util.find_spec(tool) is None]
    assert not missing, f"{', '.join(missing)} needed to install packages offline: bash scripts/test.sh"
    version = importlib.metadata.version("setuptools")
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    has_wheel = importlib.util.find_spec("wheel") is not None
    assert numbers >= SETUPTOOLS_WITH_BDIST_WHEEL or has_wheel, (
        f"setuptools {version} without the `wheel` package cannot build wheels (no bdist_wheel): "
        "pip install 'setuptools>=70.1' (the test extra declares it: pip install -e .[test])"
    )


def _probe(python: str | Path, cwd: Path) -> dict[str, object]:
    # run away from the repository: `python -c` puts the current directory first on sys.path
    proc = subprocess.run(
        [str(python), "-c", _PROBE, *_MODULES], cwd=cwd, env=clean_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def create(root: Path) -> Path:
    """Create a venv at ``root`` that sees exactly this environment's packages; return its python.

    Before returning, checks that the venv and this environment list the same distributions at
    the same versions and import lightkit, pip, setuptools, torch and pytest from the same files.
    """
    require_build_tools()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = [f"import site; site.addsitedir({path!r})\n" for path in outer_site_dirs()]
    Path(own, "_lightkit_tests_outer_env.pth").write_text("".join(lines))
    outer, inner = _probe(sys.executable, root), _probe(python, root)
    only_outer = sorted(set(map(tuple, outer["distributions"])) - set(map(tuple, inner["distributions"])))
    only_inner = sorted(set(map(tuple, inner["distributions"])) - set(map(tuple, outer["distributions"])))
    assert not only_outer and not only_inner, (
        f"the nested venv does not see this environment's packages: only here {only_outer}, "
        f"only there {only_inner}"
    )
    assert inner["origins"] == outer["origins"], (inner["origins"], outer["origins"])
    return python
