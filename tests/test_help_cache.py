"""The help cache: help printed without torch, byte for byte what the real parser prints."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightkit import registry
from lightkit.cli import help_cache
from lightkit.cli.completion import complete

FAKES = Path(__file__).parent / "fixtures" / "plugins"

BUILT_IN = [
    ("fit", "--help"),
    ("predict", "-h"),
    ("fit", "--model.help", "TabularMLP"),
    ("fit", "--data.help", "CSVDataModule"),
    ("fit", "--data.help=SklearnDataModule"),
    ("fit", "--trainer.callbacks.help", "PredictionWriter"),
    ("plugins", "show", "TabularMLP"),
    ("plugins", "show", "CSVDataModule", "--kind", "datamodules"),
]
PLUGIN = [("fit", "--model.help", "SlowNet"), ("plugins", "show", "SlowNet")]


@pytest.fixture
def frozen_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """lightkit's own sources as they are now: the shared checkout may be edited while a test runs,
    and every edit (rightly) changes the key. How edits change it is tested on a copy below."""
    snapshot = help_cache._lightkit_sources()
    monkeypatch.setattr(help_cache, "_lightkit_sources", lambda: snapshot)


@pytest.fixture
def no_slow_path(monkeypatch: pytest.MonkeyPatch):
    """Make the real parser and plugin loading fail, so that only the cache can answer."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the slow path ran")

    def apply() -> None:
        import lightkit.cli.lightkit_cli

        monkeypatch.setattr(lightkit.cli.lightkit_cli, "LightkitCLI", refuse)
        monkeypatch.setattr(registry, "load", refuse)

    return apply


def entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.txt"))


def _check_identical(lightkit, monkeypatch, no_slow_path, request: tuple[str, ...]) -> None:
    monkeypatch.setenv(help_cache.DISABLE_ENV, "0")
    slow = lightkit(*request)
    monkeypatch.delenv(help_cache.DISABLE_ENV)
    miss = lightkit(*request)
    no_slow_path()
    hit = lightkit(*request)
    assert slow.code == miss.code == hit.code == 0, slow.err
    assert slow.out and slow.out == miss.out == hit.out


@pytest.mark.parametrize("request_", BUILT_IN, ids=" ".join)
def test_cached_help_of_built_ins_equals_the_slow_path(
    request_, lightkit, monkeypatch, no_slow_path, frozen_sources, _help_cache_in_tmp
):
    _check_identical(lightkit, monkeypatch, no_slow_path, request_)
    assert len(entries(_help_cache_in_tmp)) == 1


@pytest.mark.parametrize("request_", PLUGIN, ids=" ".join)
def test_cached_help_of_a_plugin_equals_the_slow_path_and_does_not_import_it(
    request_, lightkit, monkeypatch, no_slow_path, frozen_sources, fake_plugins
):
    fake_plugins("slow")
    _check_identical(lightkit, monkeypatch, no_slow_path, request_)
    sys.modules.pop("lightkit_fake_slow", None)
    again = lightkit(*request_)
    assert again.code == 0 and "SlowNet" in again.out
    assert "lightkit_fake_slow" not in sys.modules


def test_installing_or_removing_a_plugin_invalidates_the_cache(
    lightkit, fake_plugins, frozen_sources, _help_cache_in_tmp
):
    before = help_cache.content_key()
    assert lightkit("fit", "--model.help", "TabularMLP").code == 0
    fake_plugins("slow")
    installed = help_cache.content_key()
    assert installed != before
    assert lightkit("fit", "--model.help", "TabularMLP").code == 0
    assert len(entries(_help_cache_in_tmp)) == 2  # built again for the new set of distributions
    sys.path.remove(str(FAKES / "slow"))
    importlib.invalidate_caches()
    registry.refresh()
    try:
        assert help_cache.content_key() == before  # removed: the first entry is valid again
    finally:
        sys.path.insert(0, str(FAKES / "slow"))  # the fixture removes it at teardown


def _fake_distribution(root: Path, version: str, entry_points: str) -> Path:
    info = root / "lightkit_fake_tmp-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: lightkit-fake-tmp\nVersion: {version}\n\n")
    (info / "entry_points.txt").write_text(entry_points)
    return info


def test_the_key_follows_versions_entry_points_and_plugin_sources(tmp_path, monkeypatch, frozen_sources):
    group = "[lightkit.models]\nTmpNet = lightkit_fake_tmp:TmpNet\n"
    _fake_distribution(tmp_path, "0.1", group)
    module = tmp_path / "lightkit_fake_tmp.py"
    module.write_text("class TmpNet: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    keys = [help_cache.content_key()]
    _fake_distribution(tmp_path, "0.2", group)
    keys.append(help_cache.content_key())
    _fake_distribution(tmp_path, "0.2", group + "OtherNet = lightkit_fake_tmp:TmpNet\n")
    keys.append(help_cache.content_key())
    module.write_text('class TmpNet:\n    """Edited in place, as in an editable install."""\n')
    os.utime(module, ns=(1, 1))
    keys.append(help_cache.content_key())
    assert len(set(keys)) == 4
    assert "lightkit_fake_tmp" not in sys.modules  # found on disk, never imported


def test_an_edited_lightkit_source_changes_the_key(tmp_path, monkeypatch):
    package = tmp_path / "lightkit"
    (package / "cli").mkdir(parents=True)
    (package / "cli" / "help_cache.py").write_text("# a copy\n")
    (package / "components.py").write_text("X = 1\n")
    monkeypatch.setattr(help_cache, "__file__", str(package / "cli" / "help_cache.py"))
    first = help_cache._lightkit_sources()
    (package / "components.py").write_text("X = 2  # longer\n")
    assert help_cache._lightkit_sources() != first
    assert [entry[0] for entry in first] == ["components.py", os.path.join("cli", "help_cache.py")]


def test_errors_and_other_arguments_are_not_cached(lightkit, _help_cache_in_tmp):
    result = lightkit("fit", "--model.help", "NoSuchNet")
    assert result.code != 0
    assert lightkit("plugins", "show", "NoSuchNet").code != 0
    assert entries(_help_cache_in_tmp) == []


@pytest.mark.parametrize(
    ("args", "cached"),
    [
        (["fit", "--help"], True),
        (["test", "-h"], True),
        (["fit", "--model.help", "X"], True),
        (["fit", "--model.help=X"], True),
        (["plugins", "show", "X"], True),
        (["plugins", "show", "--kind", "models", "X"], True),
        (["plugins", "show", "X", "--kind=models"], True),
        (["fit", "--config", "a.yaml", "--help"], False),
        (["fit", "--model", "TabularMLP", "--help"], False),
        (["fit", "--model.help"], False),
        (["fit", "--trainer.max_epochs", "3"], False),
        (["plugins", "show"], False),
        (["plugins", "show", "--kind", "X"], False),
        (["plugins", "list"], False),
        (["runs", "--help"], False),
    ],
)
def test_only_plain_help_requests_are_answered(args, cached):
    assert (help_cache.request_of(args) is not None) is cached


def test_the_cache_can_be_turned_off_and_moved(lightkit, monkeypatch, tmp_path):
    monkeypatch.setenv(help_cache.CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert help_cache.cache_dir() == tmp_path / "elsewhere" / "help"
    monkeypatch.delenv(help_cache.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert help_cache.cache_dir() == tmp_path / "xdg" / "lightkit" / "help"
    monkeypatch.setenv(help_cache.DISABLE_ENV, "0")
    assert not help_cache.cacheable(["fit", "--help"])
    assert lightkit("fit", "--help").code == 0
    assert not (tmp_path / "xdg").exists()


def test_completion_offers_component_and_trainer_flags_from_the_cache(lightkit, frozen_sources):
    words = ["lightkit", "fit", "--model", "TabularMLP", "--model.hid"]
    assert complete(words, 4) == []  # nothing cached yet (and no background build in tests)
    assert lightkit("fit", "--model.help", "TabularMLP").code == 0
    assert complete(words, 4) == ["--model.hidden_sizes", "--model.hidden_sizes+"]
    assert complete(["lightkit", "fit", "--model=TabularMLP", "--model."], 3)[:2] == [
        "--model.help",
        "--model.hidden_sizes",
    ]
    assert complete(["lightkit", "fit", "--model."], 2) == ["--model.help"]  # no model selected
    assert lightkit("fit", "--data.help", "CSVDataModule").code == 0
    data = complete(["lightkit", "predict", "--data", "CSVDataModule", "--data.p"], 4)
    assert data == ["--data.path"]  # predict falls back to the entry built by fit
    assert "--trainer.gradient_clip_algorithm" not in complete(["lightkit", "fit", "--trainer.gr"], 2)
    assert lightkit("fit", "--help").code == 0
    assert complete(["lightkit", "fit", "--trainer.gr"], 2) == [
        "--trainer.gradient_clip_val",
        "--trainer.gradient_clip_algorithm",
    ]


def test_completion_builds_a_missing_entry_in_the_background(monkeypatch, frozen_sources, _help_cache_in_tmp):
    started: list[list[str]] = []

    class Popen:
        def __init__(self, argv: list[str], **kwargs: object) -> None:
            started.append(argv)

    real_popen = subprocess.Popen
    monkeypatch.delenv(help_cache.WARM_ENV)
    monkeypatch.setattr(subprocess, "Popen", Popen)
    complete(["lightkit", "fit", "--model", "TabularMLP", "--model."], 4)
    complete(["lightkit", "fit", "--model", "TabularMLP", "--model.l"], 4)  # already being built
    monkeypatch.setattr(subprocess, "Popen", real_popen)
    assert len(started) == 1 and started[0][-3:] == ["fit", "--model.help", "TabularMLP"]
    lock = Path(started[0][3])
    assert lock.exists()
    # what the detached process does, run here to the end: it builds the entry and drops the lock
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    for _attempt in range(3):  # an edit of the shared checkout mid-build (rightly) stores nothing
        done = subprocess.run(started[0], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        assert "--model.hidden_sizes" in done.stdout and not lock.exists()
        flags = [json.loads(p.read_text())["flags"] for p in _help_cache_in_tmp.rglob("*.json")]
        if flags:
            break
    assert len(flags) == 1 and "--model.hidden_sizes" in flags[0]


PROBE = """
import sys
from lightkit.cli import main
code = main({args!r})
print("TORCH=" + str("torch" in sys.modules or "lightkit_fake_slow" in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def probe(args: list[str], env: dict[str, str]) -> tuple[int, str, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, env=env
    )
    return proc.returncode, proc.stdout, proc.stderr.strip().splitlines()[-1] == "TORCH=True"


def warm_and_hit(args: list[str], env: dict[str, str]) -> tuple[str, str]:
    """The text of a miss (which imports torch) and of the hit after it (which must not)."""
    for _attempt in range(3):  # an edit of the shared checkout mid-build (rightly) stores nothing
        code, slow_text, heavy = probe(args, env)
        assert code == 0 and heavy
        code, text, heavy = probe(args, env)
        assert code == 0
        if not heavy:
            return slow_text, text
    pytest.fail(f"lightkit {' '.join(args)} was never answered from the cache")


def test_a_cached_answer_imports_no_torch_nor_the_plugin(tmp_path):
    env = {
        **os.environ,
        help_cache.CACHE_DIR_ENV: str(tmp_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKES / "slow"), os.environ.get("PYTHONPATH")])),
    }
    for args in (["fit", "--help"], ["plugins", "show", "SlowNet"]):
        slow_text, text = warm_and_hit(args, env)
        assert text == slow_text
    complete_args = ["completion", "__complete", "2", "lightkit", "fit", "--trainer.max_e"]
    for _attempt in range(3):  # as above: an edit between the two calls changes the key
        code, text, heavy = probe(complete_args, env)
        assert code == 0 and not heavy
        if text:
            break
        warm_and_hit(["fit", "--help"], env)
    assert text == "--trainer.max_epochs\n"
