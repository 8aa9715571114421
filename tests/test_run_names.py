"""Run names are kept as written, in any script, or refused with a message; never silently changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS
from test_bad_inputs import assert_clean

WINE = str(CONFIGS / "wine_mlp.yaml")
ONE_EPOCH = ("--trainer.max_epochs", "1", "--trainer.enable_model_summary", "false")


def test_a_name_in_another_script_is_kept_and_resumes(lightkit, workdir: Path):
    name = "训练 α-1"
    assert lightkit("fit", "--config", WINE, "--run.name", name, *ONE_EPOCH).code == 0
    assert [p.name for p in (workdir / "runs").iterdir()] == [name]
    assert name in lightkit("runs", "list").out
    resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", name, "--trainer.max_epochs", "2")
    assert resumed.code == 0, resumed.err
    assert [p.name for p in (workdir / "runs").iterdir()] == [name]


@pytest.mark.parametrize(
    ("name", "why"),
    [("a/b", "holds '/'"), ("..", "not a run"), ("x\ny", "control character"), (" ", "is empty"), ("é" * 200, "bytes long")],
    ids=["slash", "dot-dot", "newline", "blank", "too long"],
)
def test_a_name_that_cannot_be_a_directory_is_refused(lightkit, workdir: Path, name: str, why: str):
    result = lightkit("fit", "--config", WINE, "--run.name", name, *ONE_EPOCH)
    assert_clean(result, 2, "run name", "from --run.name", why)
    assert not (workdir / "runs").exists()


def test_resume_never_takes_a_name_as_a_path(lightkit, workdir: Path):
    (workdir / "elsewhere").mkdir()
    result = lightkit("fit", "--config", WINE, "--ckpt_path", "last", "--run.name", "../elsewhere", *ONE_EPOCH)
    assert result.code != 0 and "Traceback" not in result.err
    assert list((workdir / "elsewhere").iterdir()) == []
