"""The packages in plugins/ and the example plugin of docs/plugins.md, pip-installed into a fresh
virtual environment and used there through the CLI, as a user would.

The environment sees exactly the packages of the environment that runs these tests (lightkit,
its dependencies, pip and setuptools) through a ``.pth`` file, not ``--system-site-packages``:
when the tests run in a venv, the latter would expose the *base* interpreter's packages instead,
whose setuptools may be too old to build a wheel (see ``tests/nested_venv.py``). The plugins are
installed with ``--no-deps --no-build-isolation --no-index``, so nothing is downloaded. Each
package's own tests (``plugins/<pkg>/tests``) run here too, against the installed copy: this is
how CI runs them. They train every model and data module through ``lightkit.cli.main`` and check
that each entry point loads as the right kind of class; the tests below add real ``python -m
lightkit`` processes for listing and for training with a plugin callback added in YAML.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nested_venv
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("lightkit-tagging", "lightkit-vision", "lightkit-diagnostics")
DOCS = REPO / "docs" / "plugins.md"

pytestmark = pytest.mark.slow


def doc_files(markdown: str) -> dict[str, str]:
    """The code blocks of a page that carry a file name (```lang title="path"), as path -> text."""
    blocks = re.findall(r'^```\w+ title="([^"]+)"\n(.*?)^```$', markdown, flags=re.S | re.M)
    return dict(blocks)


@dataclass
class Venv:
    python: Path
    work: Path

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd or self.work,
            env=nested_venv.clean_env(),
            capture_output=True,
            text=True,
        )

    def lightkit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "lightkit", *args)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv that sees this environment's packages, with the plugin packages installed into it.

    pip and setuptools come from this environment (so that nothing is downloaded), through
    ``nested_venv.create``: ``--system-site-packages`` would give the base interpreter's instead.
    """
    root = tmp_path_factory.mktemp("plugin-venv")
    python = nested_venv.create(root / "venv")
    src = root / "src"
    for package in PACKAGES:  # build from copies, so that nothing is written into the repository
        shutil.copytree(
            REPO / "plugins" / package,
            src / package,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
        )
    example = doc_files(DOCS.read_text())
    assert "lightkit-example/pyproject.toml" in example, "docs/plugins.md lost its example plugin"
    for path, text in example.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text)
    work = root / "work"
    work.mkdir()
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            *(str(src / p) for p in (*PACKAGES, "lightkit-example")),
        ],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    return Venv(python, work)


def metrics_columns(run: Path) -> set[str]:
    with open(run / "metrics.csv", newline="") as handle:
        return set(next(csv.reader(handle)))


def test_installed_packages_show_up_in_plugins_list(venv: Venv):
    listed = venv.lightkit("plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    found = {(e["name"], e["kind"], e["distribution"], e["version"]) for e in json.loads(listed.stdout)}
    assert {
        ("TaggingMLP", "models", "lightkit-tagging", "0.1.0"),
        ("TagTableDataModule", "datamodules", "lightkit-tagging", "0.1.0"),
        ("SmallCNN", "models", "lightkit-vision", "0.1.0"),
        ("DigitsDataModule", "datamodules", "lightkit-vision", "0.1.0"),
        ("ImageFolderDataModule", "datamodules", "lightkit-vision", "0.1.0"),
        ("LayerStatsMonitor", "callbacks", "lightkit-diagnostics", "0.1.0"),
        ("LinearClassifier", "models", "lightkit-example", "0.1.0"),
        ("EpochTimer", "callbacks", "lightkit-example", "0.1.0"),
    } <= found


def test_the_packages_own_tests_pass_against_the_installed_copies(venv: Venv):
    src = venv.work.parent / "src"
    tests = [str(src / package / "tests") for package in PACKAGES]
    result = venv.run(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::DeprecationWarning",
        "--basetemp",
        str(venv.work.parent / "pytest-inner"),
        *tests,
        cwd=src,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout) and " failed" not in result.stdout


def test_tagging_trains_with_a_plugin_callback_added_in_yaml(venv: Venv):
    (venv.work / "tags.yaml").write_text(
        "model:\n  class_path: TaggingMLP\n  init_args:\n    hidden_sizes: [32]\n    threshold: 0.4\n"
        "data:\n  class_path: TagTableDataModule\n  init_args:\n    synthetic_rows: 300\n"
        "trainer:\n  max_epochs: 2\n  callbacks:\n"
        "    - class_path: LayerStatsMonitor\n      init_args:\n        every_n_steps: 2\n"
    )
    fit = venv.lightkit("fit", "--config", "tags.yaml", "--run.name", "tags")
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = venv.work / "runs" / "tags"
    assert (run / "checkpoints" / "best.ckpt").is_file()
    columns = metrics_columns(run)
    assert {"val_f1_macro", "val_auroc_macro", "val_f1/tag_0", "layers/net.0/grad_norm"} <= columns
    used = json.loads((run / "versions.json").read_text())["plugins"]
    assert used.get("lightkit-tagging") == "0.1.0" and used.get("lightkit-diagnostics") == "0.1.0"


def test_the_docs_example_plugin_trains_with_its_yaml_callback(venv: Venv):
    config = venv.work.parent / "src" / "lightkit-example" / "moons.yaml"
    fit = venv.lightkit("fit", "--config", str(config), "--trainer.max_epochs", "2", "--run.name", "moons")
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert {"epoch_seconds", "val_acc", "val_loss"} <= metrics_columns(venv.work / "runs" / "moons")
