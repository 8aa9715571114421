"""The docs build, the CLI reference matches the parsers, and the documented outputs are real.

Every ```console block in the checked pages is run again: `$ lightkit ...` lines are executed
in-process in a scratch directory that holds a copy of configs/ and every file the page defines in
a ```yaml title="..." block. For an error, the `error:` line must read as documented (paths
relative to the scratch directory) and a documented `hint:` must still be there; for other output,
stdout must equal the block with numbers masked (see :func:`masked`). An HTML comment
`<!-- setup: a, b -->` before a block names the scratch state it needs (a trained run, a broken
CSV, ...), built by SETUPS below.

The transcript of the README's main job in getting-started.md (`$ bash scripts/demo.sh`, made by
a real run in a fresh clone) is checked against what the job's `lightkit` commands print now,
stdout and stderr together as a terminal shows them, numbers masked.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch  # noqa: F401 - imported before any capsys, so its log handler keeps a live stderr
import pytest
import yaml
from conftest import CONFIGS, REPO

DOCS = REPO / "docs"
CHECKED_PAGES = ("configs.md", "troubleshooting.md", "getting-started.md")

_FENCE = re.compile(
    r'(?:<!-- setup: (?P<setup>[^>]*?) -->\n)?^(?P<indent> *)```(?P<lang>\w+)(?: title="(?P<title>[^"]+)")?\n'
    r"(?P<body>.*?)\n(?P=indent)```",
    re.MULTILINE | re.DOTALL,
)


_DURATION = re.compile(r"\b\d+ h \d+ min\b|\b\d+ min \d+ s\b|\b\d+(?:\.\d+)? s\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def masked(line: str) -> str:
    """``line`` with every number as ``N`` (durations as ``N s``), trailing blanks dropped.

    Metrics, times, dates and run names differ from run to run and machine to machine; what the
    docs promise is the shape of the output: its lines, their words and their order.
    """
    line = re.sub(r"^GPU available: .*", "GPU available: ...", line)  # the machine's, not lightkit's
    return _NUMBER.sub("N", _DURATION.sub("N s", line)).rstrip()


@dataclass(frozen=True)
class Block:
    page: str
    lang: str
    title: str | None
    setups: tuple[str, ...]
    body: str

    @property
    def command(self) -> list[str]:
        return shlex.split(self.body.splitlines()[0].removeprefix("$ "))

    @property
    def expected(self) -> list[str]:
        return self.body.splitlines()[1:]


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    found = []
    for m in _FENCE.finditer(text):
        indent = len(m["indent"])
        body = "\n".join(line[indent:] for line in m["body"].splitlines())
        setups = tuple(s.strip() for s in (m["setup"] or "").split(",") if s.strip())
        found.append(Block(page, m["lang"], m["title"], setups, body))
    return found


CONSOLE = [
    b
    for page in CHECKED_PAGES
    for b in blocks(page)
    if b.lang == "console" and b.body.startswith("$ lightkit")
]


# -- the site and the reference ------------------------------------------------------------------------
def test_site_builds_with_mkdocs_strict(tmp_path: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(REPO / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for page in (
        "index",
        "getting-started",
        "concepts",
        "configs",
        "writing-a-plugin",
        "troubleshooting",
        "cli-reference",
    ):
        assert (
            (tmp_path / "site" / (page if page == "index" else f"{page}/index"))
            .with_suffix(".html")
            .is_file()
        ), page


def test_cli_reference_is_generated_from_the_current_parsers():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_every_checked_page_has_commands_to_check():
    pages = {b.page for b in CONSOLE}
    assert pages == set(CHECKED_PAGES)
    assert len(CONSOLE) >= 25


# -- scratch directory and its setups ------------------------------------------------------------------
@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs")
    shutil.copytree(CONFIGS, root / "configs")
    for page in CHECKED_PAGES:
        for block in blocks(page):
            if block.lang != "yaml" or not block.title:
                continue
            if (REPO / block.title).is_file():  # a file of the repository, shown in the docs: same content
                assert yaml.safe_load(block.body) == yaml.safe_load((REPO / block.title).read_text()), (
                    block.title
                )
            else:
                (root / block.title).write_text(block.body + "\n")
    return root


def _fit(*args: str) -> None:
    from lightkit.cli import main

    assert main(["fit", *args, "--trainer.enable_progress_bar", "false"]) == 0


def _churn_run(root: Path) -> None:
    _fit("--config", "configs/churn_csv.yaml", "--trainer.max_epochs", "1", "--run.name", "churn")


def _wine_run(root: Path) -> None:
    _fit("--config", "configs/wine_mlp.yaml", "--trainer.max_epochs", "1", "--run.name", "wine")


def _semicolon_csv(root: Path) -> None:
    (root / "semi.csv").write_text((root / "configs/data/churn.csv").read_text().replace(",", ";"))


def _csv_with_holes(root: Path) -> None:
    lines = (root / "configs/data/churn.csv").read_text().splitlines()
    column = lines[0].split(",").index("tenure_months")
    cells = lines[5].split(",")
    cells[column] = ""
    lines[5] = ",".join(cells)
    (root / "holes.csv").write_text("\n".join(lines) + "\n")


def _few_columns_csv(root: Path) -> None:
    lines = (root / "configs/data/churn_new.csv").read_text().splitlines()
    (root / "fewcols.csv").write_text("\n".join(",".join(line.split(",")[:3]) for line in lines) + "\n")


def _truncated_checkpoint(root: Path) -> None:
    ckpts = root / "runs" / "churn" / "checkpoints"
    (ckpts / "trunc.ckpt").write_bytes((ckpts / "last.ckpt").read_bytes()[:3000])


def _pickled_checkpoint(root: Path) -> None:
    import torch

    checkpoint = torch.load(root / "runs" / "churn" / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["extra"] = argparse.Namespace(a=1)
    torch.save(checkpoint, root / "pickled.ckpt")


def _empty_directory(root: Path) -> None:
    (root / "empty").mkdir(exist_ok=True)


SETUPS = {
    "churn-run": _churn_run,
    "wine-run": _wine_run,
    "semicolon-csv": _semicolon_csv,
    "csv-with-holes": _csv_with_holes,
    "few-columns-csv": _few_columns_csv,
    "truncated-checkpoint": _truncated_checkpoint,
    "pickled-checkpoint": _pickled_checkpoint,
    "empty-directory": _empty_directory,
    "acme-plugins": None,  # per test: see acme_plugins()
}
_done: set[str] = set()


def acme_plugins(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution acme-models whose AcmeNet cannot be imported and which also offers TabularMLP."""
    from lightkit import registry

    site = root / "acme-site"
    if not site.exists():
        (site / "acme_models").mkdir(parents=True)
        (site / "acme_models" / "__init__.py").write_text(
            "import torchvisionn  # a typo: this package is broken\n"
        )
        info = site / "acme_models-1.2.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-models\nVersion: 1.2\n")
        (info / "entry_points.txt").write_text(
            "[lightkit.models]\nAcmeNet = acme_models:AcmeNet\nTabularMLP = acme_models:TabularMLP\n"
        )
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()


# -- the documented commands ----------------------------------------------------------------------------
@pytest.mark.parametrize("block", CONSOLE, ids=[f"{b.page}:{' '.join(b.command[1:4])}" for b in CONSOLE])
def test_documented_output_is_what_the_command_prints(block: Block, scratch: Path, monkeypatch, capsys):
    from lightkit import registry
    from lightkit.cli import main

    monkeypatch.chdir(scratch)
    for name in block.setups:
        assert name in SETUPS, f"unknown setup {name!r} in {block.page}"
        if name == "acme-plugins":
            acme_plugins(scratch, monkeypatch)
        elif name not in _done:
            SETUPS[name](scratch)
            _done.add(name)
    if "empty-directory" in block.setups:
        monkeypatch.chdir(scratch / "empty")
    capsys.readouterr()
    try:
        code = main(block.command[1:])
    finally:
        if "acme-plugins" in block.setups:
            monkeypatch.undo()
            sys.modules.pop("acme_models", None)
            registry.refresh()
    out, err = capsys.readouterr()
    err = err.replace(f"{scratch}{os.sep}", "")
    expected = block.expected
    if expected and expected[0].startswith("error:"):
        assert code != 0
        got = [line for line in err.splitlines() if line.startswith("error:")]
        assert got[:1] == expected[:1], f"{block.page}: `{block.body.splitlines()[0]}` now prints\n{err}"
        if any(line.startswith("hint:") for line in expected):
            assert any(line.startswith("hint:") for line in err.splitlines()), err
    else:
        assert code == 0, err
        assert [masked(line) for line in out.strip().splitlines()] == [masked(line) for line in expected], out


# -- the list rules of docs/configs.md --------------------------------------------------------------------
@pytest.fixture
def printed(scratch: Path, monkeypatch, capsys):
    """``printed(*flags)``: what `lightkit fit --config configs/wine_mlp.yaml FLAGS --print_config` prints."""
    from lightkit.cli import main

    monkeypatch.chdir(scratch)

    def run(*args: str) -> dict:
        capsys.readouterr()
        code = main(["fit", "--config", "configs/wine_mlp.yaml", *args, "--print_config"])
        out, err = capsys.readouterr()
        assert code == 0, err
        return yaml.safe_load(out)

    return run


def callbacks(config: dict) -> list[tuple[str, dict]]:
    return [
        (c["class_path"].rsplit(".", 1)[1], c.get("init_args", {}))
        for c in config["trainer"]["callbacks"] or []
    ]


def test_a_list_flag_replaces_and_plus_appends(printed):
    assert printed("--model.hidden_sizes", "[128, 64]")["model"]["init_args"]["hidden_sizes"] == [128, 64]
    assert printed("--model.hidden_sizes+=16")["model"]["init_args"]["hidden_sizes"] == [64, 32, 16]


def test_inline_yaml_config(printed):
    assert printed("--config", "{trainer: {max_epochs: 2}}")["trainer"]["max_epochs"] == 2


def test_callbacks_append_on_the_command_line_and_in_yaml(printed):
    appended = callbacks(
        printed(
            "--config",
            "callbacks.yaml",
            "--trainer.callbacks+=ModelCheckpoint",
            "--trainer.callbacks.monitor=val_acc",
        )
    )
    assert [name for name, _ in appended] == ["EarlyStopping", "LearningRateMonitor", "ModelCheckpoint"]
    assert appended[0][1]["patience"] == 7 and appended[2][1]["monitor"] == "val_acc"
    in_yaml = callbacks(printed("--config", "callbacks.yaml", "--config", "more-callbacks.yaml"))
    assert [name for name, _ in in_yaml] == ["EarlyStopping", "LearningRateMonitor", "ModelSummary"]
    assert in_yaml[2][1]["max_depth"] == 2


def test_a_later_callback_list_replaces_the_earlier_one_with_defaults(printed, scratch: Path):
    (scratch / "replace.yaml").write_text(
        "trainer:\n  callbacks:\n    - class_path: EarlyStopping\n"
        "      init_args:\n        monitor: val_acc\n"
    )
    replaced = callbacks(printed("--config", "callbacks.yaml", "--config", "replace.yaml"))
    assert [name for name, _ in replaced] == ["EarlyStopping"]
    assert replaced[0][1]["monitor"] == "val_acc" and replaced[0][1]["patience"] == 3  # the default, not 7
    flag = callbacks(
        printed("--config", "callbacks.yaml", "--trainer.callbacks=[{class_path: ModelSummary}]")
    )
    assert [name for name, _ in flag] == ["ModelSummary"]


def test_callbacks_remove_by_name_after_everything_else(printed):
    removed = callbacks(printed("--config", "callbacks.yaml", "--trainer.callbacks-=EarlyStopping"))
    assert [name for name, _ in removed] == ["LearningRateMonitor"]
    readded = callbacks(
        printed(
            "--config",
            "callbacks.yaml",
            "--trainer.callbacks-=EarlyStopping",
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val_acc",
        )
    )
    assert [name for name, _ in readded] == ["LearningRateMonitor"]


def test_callbacks_clear_then_append(printed):
    assert callbacks(printed("--config", "callbacks.yaml", "--trainer.callbacks=[]")) == []
    fresh = callbacks(
        printed(
            "--config",
            "callbacks.yaml",
            "--trainer.callbacks=[]",
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val_acc",
        )
    )
    assert [(name, args["monitor"], args["patience"]) for name, args in fresh] == [
        ("EarlyStopping", "val_acc", 3)
    ]


# -- the main job's transcript in getting-started.md ---------------------------------------------------------
def _merged(*args: str, cwd: Path) -> list[str]:
    """``python -m lightkit ARGS``: stdout and stderr in one stream, in the order they were written."""
    proc = subprocess.run(
        [sys.executable, "-m", "lightkit", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_the_main_job_transcript_is_what_the_job_prints(tmp_path: Path):
    page = blocks("getting-started.md")
    (transcript,) = [b for b in page if b.lang == "console" and b.body.startswith("$ bash scripts/demo.sh")]
    shutil.copytree(CONFIGS, tmp_path / "configs")
    demo = (REPO / "scripts" / "demo.sh").read_text()
    job = [shlex.split(line, comments=True) for line in demo.splitlines()]
    printed = [line for cmd in job if cmd[:1] == ["lightkit"] for line in _merged(*cmd[1:], cwd=tmp_path)]
    expected = transcript.expected
    install, shown = expected[: len(expected) - len(printed)], expected[len(expected) - len(printed) :]
    assert all(line.startswith("torch: ") for line in install), install  # scripts/torch_source.sh's line
    assert [masked(line) for line in printed] == [masked(line) for line in shown], "\n".join(printed)

    (head,) = [b for b in page if b.lang == "console" and b.body.startswith("$ head -3 runs/")]
    (written,) = (tmp_path / "runs").glob("*/predictions.csv")
    first = written.read_text().splitlines()[:3]
    assert [masked(line) for line in first] == [masked(line) for line in head.expected]
