"""Shell completion: commands, options and registered short names, from metadata only."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lightkit import registry
from lightkit.cli.completion import FILES, LIGHTNING_CALLBACKS, complete

FAKES = Path(__file__).parent / "fixtures" / "plugins"


@pytest.fixture
def slow_plugin_installed():
    """The fake slow plugin on sys.path, as `pip install` would put it."""
    sys.path.insert(0, str(FAKES / "slow"))
    importlib.invalidate_caches()
    registry.refresh()
    yield
    sys.path.remove(str(FAKES / "slow"))
    importlib.invalidate_caches()
    registry.refresh()


def words(line: str) -> tuple[list[str], int]:
    """Words and index of the current word, as a shell hands them over ('|' marks the cursor)."""
    typed = line.split("|")[0].split(" ")
    return typed, len(typed) - 1


def test_commands_and_global_options():
    assert complete(*words("lightkit |")) == complete(["lightkit", ""], 1)
    assert {"fit", "predict", "plugins", "completion"} <= set(complete(*words("lightkit |")))
    assert complete(*words("lightkit pr|")) == ["predict"]
    assert complete(*words("lightkit --v|")) == ["--version"]


def test_model_names_come_from_the_registry(slow_plugin_installed):
    assert complete(*words("lightkit fit --model |")) == ["SlowNet", "TabularMLP"]
    assert complete(*words("lightkit fit --model Ta|")) == ["TabularMLP"]
    assert complete(*words("lightkit fit --data Sk|")) == ["SklearnDataModule"]
    assert "lightkit_fake_slow" not in sys.modules


def test_flag_equals_value_as_bash_splits_it_and_as_zsh_keeps_it():
    # bash puts '=' in a word of its own; zsh hands over the whole word
    assert complete(["lightkit", "fit", "--model", "=", "Tab"], 4) == ["TabularMLP"]
    assert complete(["lightkit", "fit", "--model", "="], 3) == ["TabularMLP"]
    assert complete(["lightkit", "fit", "--model=Tab"], 2) == ["TabularMLP"]
    assert complete(["lightkit", "fit", "--trainer.callbacks+", "=", "Early"], 4) == ["EarlyStopping"]
    assert complete(["lightkit", "fit", "--trainer.callbacks+=Pred"], 2) == ["PredictionWriter"]


def test_callbacks_offer_plugins_and_lightnings_own():
    names = complete(*words("lightkit fit --trainer.callbacks+=|"))
    assert {"PredictionWriter", "EarlyStopping", "ModelCheckpoint", "LearningRateMonitor"} <= set(names)


def test_lightning_callback_names_exist_in_lightning():
    import lightning.pytorch.callbacks as callbacks

    assert set(LIGHTNING_CALLBACKS) <= set(callbacks.__all__)


def test_options_of_training_commands_and_paths():
    options = complete(*words("lightkit fit --|"))
    assert {"--config", "--model", "--data", "--trainer.callbacks+=", "--ckpt_path", "--run.name"} <= set(
        options
    )
    assert complete(*words("lightkit fit --trainer.max_e|")) == ["--trainer.max_epochs"]
    assert complete(*words("lightkit fit --config |")) == [FILES]
    assert complete(*words("lightkit predict --ckpt_path |")) == ["best", "last", FILES]
    assert complete(*words("lightkit fit --trainer.max_epochs |")) == []


def test_plugins_and_completion_subcommands():
    assert complete(*words("lightkit plugins |")) == ["list", "show", "check"]
    assert complete(*words("lightkit plugins list --|")) == ["--kind", "--json", "--names", "--help"]
    assert complete(*words("lightkit plugins list --kind |")) == ["models", "datamodules", "callbacks"]
    assert "TabularMLP" in complete(*words("lightkit plugins show |"))
    assert complete(*words("lightkit completion |")) == ["bash", "zsh"]


def test_completion_prints_scripts_and_refuses_other_shells(lightkit):
    bash = lightkit("completion", "bash")
    assert bash.code == 0 and "complete -F _lightkit_complete lightkit" in bash.out
    zsh = lightkit("completion", "zsh")
    assert (
        zsh.code == 0 and zsh.out.startswith("#compdef lightkit") and "compdef _lightkit lightkit" in zsh.out
    )
    fish = lightkit("completion", "fish")
    assert fish.code == 2 and "unknown shell 'fish'" in fish.err and "bash or zsh" in fish.err


@pytest.fixture
def shim(tmp_path: Path) -> dict[str, str]:
    """PATH with a `lightkit` that runs this interpreter's lightkit, as the console script would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lightkit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lightkit "$@"\n')
    (bin_dir / "lightkit").chmod(0o755)
    (tmp_path / "train.yaml").write_text("{}\n")
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


BASH_PROBE = r"""
eval "$(lightkit completion bash)"
probe() {
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _lightkit_complete; echo "${COMPREPLY[*]}"
}
probe lightkit fi
probe lightkit fit --model Tab
probe lightkit fit --model = Tab
probe lightkit fit --trainer.callbacks+ = Early
probe lightkit fit --config tr
"""


def test_the_bash_script_completes_through_the_cli(shim, tmp_path: Path):
    proc = subprocess.run(["bash", "-c", BASH_PROBE], env=shim, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["fit", "TabularMLP", "TabularMLP", "EarlyStopping", "train.yaml"]


ZSH_PROBE = r"""
compdef() { :; }
compadd() { print -r -- "${@[-1]}"; }
compset() { PREFIX="${PREFIX#*=}"; }
_files() { print -r -- "(files)"; }
eval "$(lightkit completion zsh)"
probe() { words=("$@"); CURRENT=${#words}; PREFIX="${words[-1]}"; _lightkit; }
probe lightkit fi
probe lightkit fit --model=Tab
probe lightkit fit --trainer.callbacks+=Early
probe lightkit fit --config tr
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_the_zsh_script_completes_through_the_cli(shim, tmp_path: Path):
    """zsh's completion builtins are stubbed: this checks what the script hands to them."""
    proc = subprocess.run(
        ["zsh", "-f", "-c", ZSH_PROBE], env=shim, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["fit", "TabularMLP", "EarlyStopping", "(files)"]
