"""``pip install lightkit`` without extras pulls no test or docs tools, and nothing Lightning's
``[extra]`` would add that lightkit does not use.

The closure is read from pyproject.toml and the installed distributions' metadata (what pip would
resolve here), following only the extras each requirement asks for.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from conftest import REPO
from packaging.requirements import Requirement

#: what the core install must never bring
NOT_IN_CORE = {
    "pytest", "hypothesis", "mkdocs", "mkdocs-material", "bitsandbytes", "hydra-core", "tensorboardx",
    "optuna", "mlflow", "litserve", "onnx", "onnxruntime",
}  # fmt: skip


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _requirements_of(dist: str, extras: set[str]) -> list[Requirement]:
    try:
        declared = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return []
    wanted = []
    for line in declared:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            wanted.append(req)
    return wanted


def core_closure() -> dict[str, str]:
    """Every distribution the core dependencies pull, with the one that asked for it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pending = [(Requirement(line), "lightkit") for line in project["dependencies"]]
    seen: dict[str, str] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    while pending:
        req, parent = pending.pop()
        name = _name(req.name)
        seen.setdefault(name, parent)
        key = (name, frozenset(req.extras))
        if key in done:
            continue
        done.add(key)
        pending += [(r, name) for r in _requirements_of(req.name, set(req.extras))]
    return seen


def test_the_core_install_pulls_no_test_docs_or_unused_tools():
    closure = core_closure()
    found = {name: closure[name] for name in NOT_IN_CORE if name in closure}
    assert found == {}, f"core dependencies pull (name: pulled by) {found}"
    for needed in ("lightning", "jsonargparse", "docstring-parser", "rich", "tensorboard", "torch"):
        assert needed in closure, needed


def test_lightning_is_required_without_its_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lightning = [Requirement(r) for r in project["dependencies"] if _name(Requirement(r).name) == "lightning"]
    assert lightning and all(not r.extras for r in lightning)
    jsonargparse = next(Requirement(r) for r in project["dependencies"] if r.startswith("jsonargparse"))
    assert "signatures" in jsonargparse.extras  # what LightningCLI needs of it
