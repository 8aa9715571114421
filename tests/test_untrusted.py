"""Untrusted files run no code: checkpoints load weights only, YAML is safe-loaded, and what a
config may import is policed (always jsonargparse's denylist; with LIGHTKIT_STRICT=1 only
registered plugins and torch, lightning, torchmetrics, lightkit)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lightning  # noqa: F401 - imported at collection, so its log handler binds to the session's stderr
import pytest
import torch

from conftest import CONFIGS

WINE = str(CONFIGS / "wine_mlp.yaml")


class _Payload:
    """Pickles as a call to ``func(*args)``: what a malicious checkpoint carries."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _crafted_checkpoint(path: Path, payload: _Payload) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 0, "note": payload}, path)
    return path


def test_checkpoint_with_a_pickle_payload_is_refused_and_never_runs(lightkit, workdir: Path):
    marker = workdir / "PWNED"
    ckpt = _crafted_checkpoint(workdir / "model.ckpt", _Payload(os.system, f"touch {marker}"))
    for command in ("predict", "fit"):
        result = lightkit(command, "--ckpt_path", str(ckpt))
        assert result.code == 1, result.err
        assert "refusing to load" in result.err and "pickled code" in result.err
        assert "system" in result.err  # names what it asked for (posix.system)
        assert "LIGHTKIT_UNSAFE_LOAD=1" in result.err
        assert "Traceback" not in result.err
    assert not marker.exists()


def test_unsafe_load_opt_out_really_unpickles(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    """The documented opt-out turns the protection off, which is why it is opt-in."""
    from lightkit.checkpoints import load_checkpoint
    from lightkit.errors import CheckpointError

    made = workdir / "made-by-unpickling"
    ckpt = _crafted_checkpoint(workdir / "model.ckpt", _Payload(os.makedirs, str(made)))
    with pytest.raises(CheckpointError, match="pickled code"):
        load_checkpoint(ckpt)
    assert not made.exists()
    monkeypatch.setenv("LIGHTKIT_UNSAFE_LOAD", "1")
    load_checkpoint(ckpt)
    assert made.is_dir()


def test_yaml_tags_that_construct_objects_are_refused(lightkit, workdir: Path):
    marker = workdir / "PWNED"
    Path("evil.yaml").write_text(f"model: !!python/object/apply:os.system ['touch {marker}']\n")
    result = lightkit("fit", "--config", "evil.yaml")
    assert result.code == 2 and "Traceback" not in result.err
    assert "evil.yaml:1" in result.err and "python/object/apply" in result.err
    result = lightkit("fit", "--config", WINE, "--data.dataset", f"!!python/object/apply:os.system ['touch {marker}']")
    assert result.code == 2 and "Traceback" not in result.err
    assert not marker.exists()


def test_jsonargparse_loads_yaml_safely(workdir: Path):
    """lightkit reads configs with yaml.safe_load; jsonargparse's own loader must be safe too."""
    from jsonargparse import ArgumentParser

    marker = workdir / "PWNED"
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--x", type=str)
    with pytest.raises(Exception, match="python/object"):
        parser.parse_string(f"x: !!python/object/apply:os.system ['touch {marker}']")
    assert not marker.exists()


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen", "builtins.eval", "importlib.import_module"])
def test_command_running_targets_are_refused_even_without_strict_mode(lightkit, target: str):
    result = lightkit("fit", "--config", WINE, "--model", target, "--print_config")
    assert result.code == 2 and "Traceback" not in result.err
    assert f"importing {target!r} is not allowed (from --model)" in result.err


def _module_with_import_side_effect(folder: Path, name: str) -> Path:
    marker = folder / f"{name}-imported"
    (folder / f"{name}.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('the module ran')\n"
        "import lightning.pytorch as pl\n\n\n"
        "class Model(pl.LightningModule):\n    pass\n"
    )
    return marker


def test_strict_mode_refuses_modules_outside_the_trusted_namespaces(
    lightkit, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.syspath_prepend(str(workdir))
    marker = _module_with_import_side_effect(workdir, "strict_probe_refused")
    monkeypatch.setenv("LIGHTKIT_STRICT", "1")
    result = lightkit("fit", "--config", WINE, "--model", "strict_probe_refused.Model", "--print_config")
    assert result.code == 2 and "Traceback" not in result.err
    assert "importing 'strict_probe_refused.Model' is not allowed" in result.err
    assert "LIGHTKIT_STRICT=1" in result.err
    assert not marker.exists()  # refused before import: its top-level code never ran
    Path("c.yaml").write_text("trainer:\n  callbacks:\n    - class_path: collections.OrderedDict\n")
    result = lightkit("fit", "--config", WINE, "--config", "c.yaml", "--print_config")
    assert result.code == 2 and "importing 'collections.OrderedDict' is not allowed" in result.err
    assert "c.yaml, line 2" in result.err


def test_without_strict_mode_a_config_can_import_any_module(
    lightkit, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    """The trust model in one test: a class_path imports (runs) the module it names."""
    monkeypatch.syspath_prepend(str(workdir))
    marker = _module_with_import_side_effect(workdir, "strict_probe_allowed")
    monkeypatch.delenv("LIGHTKIT_STRICT", raising=False)
    result = lightkit("fit", "--config", WINE, "--model", "strict_probe_allowed.Model", "--print_config")
    assert result.code == 0, result.err
    assert marker.exists()
    sys.modules.pop("strict_probe_allowed", None)


def test_strict_mode_allows_plugins_and_the_trusted_namespaces(lightkit, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LIGHTKIT_STRICT", "1")
    result = lightkit(
        "fit", "--config", WINE, "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val_loss",
        "--optimizer", "torch.optim.SGD", "--optimizer.lr", "0.1", "--print_config",
    )
    assert result.code == 0, result.err
    assert "class_path: lightning.pytorch.callbacks.EarlyStopping" in result.out
    assert "class_path: torch.optim.SGD" in result.out
    result = lightkit("fit", "--config", WINE, "--model", "torch.hub.load", "--print_config")
    assert result.code == 2 and "importing 'torch.hub.load' is not allowed" in result.err


def test_strict_mode_can_be_turned_off_again_in_the_same_process(monkeypatch: pytest.MonkeyPatch):
    from jsonargparse._common import denying_import_path_entry

    from lightkit.trust import apply_import_policy

    assert apply_import_policy(strict=True) is True
    assert denying_import_path_entry("collections.OrderedDict") == "*"
    assert denying_import_path_entry("torch.optim.SGD") is None
    assert denying_import_path_entry("lightkit.components.tabular_mlp.TabularMLP") is None
    assert apply_import_policy(strict=False) is False
    assert denying_import_path_entry("collections.OrderedDict") is None
    assert denying_import_path_entry("os.system") == "os"
