"""`lightkit new-plugin NAME [--dir PATH]` creates a plugin package that installs and passes its own tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nested_venv
import pytest
import tomllib


def test_new_plugin_writes_a_package_with_entry_points_tests_and_a_readme(lightkit, workdir: Path):
    result = lightkit("new-plugin", "lightkit-weather", "--dir", "plugins")
    assert result.code == 0, result.err
    root = workdir / "plugins" / "lightkit-weather"
    assert "WeatherModel" in result.out and "pip install -e plugins/lightkit-weather" in result.out
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == "lightkit-weather"
    assert project["project"]["entry-points"] == {
        "lightkit.models": {"WeatherModel": "lightkit_weather.model:WeatherModel"},
        "lightkit.datamodules": {"WeatherDataModule": "lightkit_weather.data:WeatherDataModule"},
        "lightkit.callbacks": {"WeatherCallback": "lightkit_weather.callbacks:WeatherCallback"},
    }
    for module in ("__init__", "model", "data", "callbacks"):
        source = (root / "src" / "lightkit_weather" / f"{module}.py").read_text()
        compile(source, f"{module}.py", "exec")
    assert (
        'check_plugin("WeatherModel", data="WeatherDataModule")'
        in (root / "tests" / "test_conformance.py").read_text()
    )
    assert "lightkit fit --model WeatherModel --data WeatherDataModule" in (root / "README.md").read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad name", "invalid plugin name 'bad name'"),
        ("plugin!", "invalid plugin name 'plugin!'"),
        ("9lives", "'9lives', which is not a Python module name"),
        ("class", "'class', which is a Python keyword"),
        ("torch", "a module named 'torch' is already importable"),
    ],
)
def test_invalid_names_are_refused_with_what_is_valid(lightkit, name, message):
    result = lightkit("new-plugin", name)
    assert result.code == 2
    assert message in result.err and "hint:" in result.err
    assert "Traceback" not in result.err


def test_an_existing_target_directory_is_never_overwritten(lightkit, workdir: Path):
    (workdir / "my-plugin").mkdir()
    (workdir / "my-plugin" / "notes.txt").write_text("mine")
    result = lightkit("new-plugin", "my-plugin")
    assert result.code == 2
    assert "'my-plugin' already exists" in result.err
    assert sorted(p.name for p in (workdir / "my-plugin").iterdir()) == ["notes.txt"]


def test_new_plugin_imports_no_torch(tmp_path: Path):
    probe = (
        "import sys\nfrom lightkit.cli import main\n"
        f"code = main(['new-plugin', 'quiet-plugin', '--dir', {str(tmp_path)!r}])\n"
        "assert code == 0, code\nprint(sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_generated_package_installs_and_passes_its_tests_in_a_fresh_venv(tmp_path: Path):
    """Exactly what a plugin author does: scaffold, pip install, run its tests. Nothing is downloaded.

    The fresh venv sees exactly the packages of the environment running this test (lightkit, pip,
    setuptools, pytest) through a ``.pth`` file made by ``nested_venv.create``, not through
    ``--system-site-packages``: inside a venv that would expose the base interpreter's packages,
    whose setuptools may lack ``bdist_wheel``, and hide the ones this suite was installed with.
    """
    from lightkit.cli import main

    assert main(["new-plugin", "lightkit-scaffolded", "--dir", str(tmp_path)]) == 0
    package = tmp_path / "lightkit-scaffolded"
    python = str(nested_venv.create(tmp_path / "venv"))
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            str(package),
        ],
        env=nested_venv.clean_env(),
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package)],
        env=nested_venv.clean_env(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "4 passed" in tests.stdout
    # the plugin went into the venv only
    visible = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('lightkit_scaffolded'))"],
        capture_output=True,
        text=True,
    )
    assert visible.stdout.strip() == "None"
