"""Hostile and careless YAML: alias bombs, duplicate keys, deep nesting, wrong shapes.

Every config is read by lightkit.config_yaml, and jsonargparse's own YAML loader goes through
the same checks (registered with its public ``set_loader``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, Result
from test_bad_inputs import assert_clean

WINE = str(CONFIGS / "wine_mlp.yaml")


def alias_bomb(levels: int = 9) -> str:
    """``levels`` levels of ten aliases each: a few hundred bytes, 10**levels values expanded."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * 10) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\nmodel: TabularMLP\n"


def _limit_memory() -> None:  # runs in the child before exec
    limit = 500 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


_PEAK_OF_CHILD = (
    "import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(json.dumps([p.returncode, p.stdout, p.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
)


def test_alias_bomb_is_refused_below_500_mb(workdir: Path):
    """The bomb fails by the node bound (deterministic), in a process capped at 500 MB of memory."""
    Path("bomb.yaml").write_text(alias_bomb(9))
    before = Path("bomb.yaml").read_bytes()
    # A wrapper process whose only child is the command: its RUSAGE_CHILDREN is that command's peak
    # memory alone (the test process's own RUSAGE_CHILDREN holds the peak of every earlier subprocess).
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_OF_CHILD, sys.executable, "-m", "lightkit", "fit", "--config", "bomb.yaml"],
        capture_output=True, text=True, preexec_fn=_limit_memory, timeout=300,
    )  # fmt: skip
    code, out, err, peak_kib = json.loads(proc.stdout)
    message = assert_clean(Result(code, out, err), 2, "bomb.yaml, line 5", "100,000")
    assert "aliases expanded" in message
    assert peak_kib < 500 * 1024  # KiB on Linux
    assert Path("bomb.yaml").read_bytes() == before
    assert not Path("runs").exists()


def test_duplicate_key_names_the_key_and_both_lines(lightkit):
    text = "trainer:\n  max_epochs: 2\n  accelerator: cpu\n  max_epochs: 1\n"
    Path("bad.yaml").write_text(text)
    result = lightkit("fit", "--config", WINE, "--config", "bad.yaml")
    assert_clean(result, 2, "duplicate key 'max_epochs'", "bad.yaml", "line 2 and line 4")
    assert Path("bad.yaml").read_text() == text


def test_duplicate_top_level_section(lightkit):
    Path("bad.yaml").write_text(Path(WINE).read_text() + "trainer:\n  max_epochs: 1\n")
    assert_clean(lightkit("fit", "--config", "bad.yaml"), 2, "duplicate key 'trainer'", "bad.yaml", "line 19")


def test_duplicate_key_in_a_flag_value(lightkit):
    result = lightkit("fit", "--config", WINE, "--trainer", "{max_epochs: 1, max_epochs: 2}")
    assert_clean(result, 2, "duplicate key 'max_epochs'", "command line", "twice on line 1")


def test_nesting_too_deep(lightkit):
    Path("deep.yaml").write_text("model:\n  x: " + "[" * 500 + "]" * 500 + "\n")
    assert_clean(lightkit("fit", "--config", "deep.yaml"), 2, "deep.yaml, line 2", "64 levels deep")


def test_alias_that_contains_itself(lightkit):
    Path("loop.yaml").write_text("model: &m\n  init_args: [*m]\n")
    assert_clean(lightkit("fit", "--config", "loop.yaml"), 2, "loop.yaml, line 1", "contains it")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("trainer: 5\n", ("trainer: 5 is not a mapping", "bad.yaml, line 1", "max_epochs")),
        ("run: 5\n", ("run: 5 is not a mapping", "bad.yaml, line 1")),
        ("model:\n  init_args: 5\n", ("model.init_args: 5 is not a mapping", "bad.yaml, line 2")),
        ("data:\n  init_args: [1]\n", ("data.init_args: [1] is not a mapping", "bad.yaml, line 2")),
        ("model:\n  class_path: 5\n", ("model.class_path: 5 is not a class name", "bad.yaml, line 2")),
        ("fit:\n  trainer: 5\n", ("fit.trainer: 5 is not a mapping", "bad.yaml, line 2")),
    ],
    ids=["trainer", "run", "model.init_args", "data.init_args", "class_path", "under fit:"],
)
def test_a_section_of_the_wrong_shape(lightkit, text: str, words: tuple[str, ...]):
    Path("bad.yaml").write_text(text)
    assert_clean(lightkit("fit", "--config", WINE, "--config", "bad.yaml"), 2, *words)
    assert Path("bad.yaml").read_text() == text


def test_config_that_is_not_utf8(lightkit):
    Path("bad.yaml").write_bytes(b"model: TabularMLP\ndata: caf\xe9\n")
    assert_clean(lightkit("fit", "--config", "bad.yaml"), 2, "'bad.yaml'", "not UTF-8", "byte 0xe9 on line 2")


def test_config_that_is_a_directory(lightkit):
    Path("configs.yaml").mkdir()
    assert_clean(lightkit("fit", "--config", "configs.yaml"), 2, "'configs.yaml'", "is a directory")


def test_merge_keys_may_override_and_normal_configs_load():
    from lightkit.config_yaml import load_yaml

    data = load_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n", "m.yaml")
    assert data["other"] == {"x": 3, "y": 2}
    assert load_yaml(Path(WINE).read_text(), WINE)["data"]["init_args"]["dataset"] == "wine"


def test_jsonargparse_reads_yaml_through_the_checked_loader():
    """Pinned: jsonargparse's YAML loader (public get_loader/set_loader) is lightkit's after install."""
    from jsonargparse import ArgumentParser, get_loader

    from lightkit.config_yaml import install
    from lightkit.errors import ConfigError

    install()
    loader = get_loader("yaml")
    assert getattr(loader, "_lightkit", False)
    install()  # idempotent: still one layer
    assert get_loader("yaml") is loader
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--a", type=dict)
    assert parser.parse_args(["--a", "{x: 1, y: 2}"]).a == {"x": 1, "y": 2}  # parsing is unchanged
    with pytest.raises(ConfigError, match="duplicate key 'x'"):
        parser.parse_args(["--a", "{x: 1, x: 2}"])
    with pytest.raises(ConfigError, match="100,000 values"):
        loader(alias_bomb(6))


def test_checkpoint_config_is_read_with_the_same_bounds():
    from lightkit.errors import CheckpointError
    from lightkit.loading import _stored_config

    with pytest.raises(CheckpointError, match="the config stored in 'x.ckpt', line 5"):
        _stored_config(alias_bomb(9), Path("x.ckpt"))


def test_control_character_in_a_config(lightkit):
    Path("bad.yaml").write_bytes(b"model: TabularMLP\ndata: a\x08b\n")
    assert_clean(lightkit("fit", "--config", "bad.yaml"), 2, "YAML syntax error in bad.yaml:2", "#x0008")
