"""The benchmark suite runs end to end at tiny sizes and writes its outputs (no timing asserts).

The smoke run happens in a copy of the working tree made into a git repository of its own, so that
``git status`` there shows whatever the run changed: a smoke run's numbers mean nothing, and it must
leave every tracked file (``benchmarks/results.json``, ``docs/benchmarks.md``) as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "core.autocrlf=false"]


def _copy_of_the_working_tree(target: Path) -> Path:
    """The files git would track here (tracked, and new ones not ignored), committed in ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run([*GIT, "init", "-q"], cwd=target, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=target, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "snapshot"], cwd=target, check=True)
    return target


def test_benchmark_smoke_run_measures_every_group_and_leaves_tracked_files_alone(tmp_path):
    repo = _copy_of_the_working_tree(tmp_path / "repo")
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(repo / "benchmarks" / "run.py"), "--smoke", "--workdir", str(work)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
    assert status.stdout == "", f"the smoke run changed files of the repository:\n{status.stdout}"

    payload = json.loads((work / "results.json").read_text())  # where a smoke run writes
    assert payload["machine"]["cores"] and payload["machine"]["versions"]["torch"]
    cases = payload["cases"]
    for key in (
        "startup.python",
        "startup.lightkit_help",
        "fit.lightkit",
        "fit.plain_lightning",
        "fit.hand_loop",
        "predict.lightkit",
        "predict.hand_loop",
    ):
        assert "median" in cases[key], cases[key]
    assert (
        cases["fit.lightkit"]["median"]["fit_s"] > 0
    )  # the Stopwatch callback reported from inside lightkit fit
    assert cases["predict.lightkit"]["median"]["predict_s"] > 0
    assert payload["facts"]["imports_torch"]["startup.lightkit_help"] is False
    assert set(payload["facts"]["prediction_rows"].values()) == {3000}  # every row predicted and written
    assert any(r["target"] == ">= 2.5x" for r in payload["rows"])  # issue #18: fit >= 2.5x plain Lightning
    # issue #18: help from the cache, scale, formats (the smoke's one sample fills the cache)
    issue_18 = ("startup.cached_fit_help", "scale.floor", "scale.fit.3000", "scale.fit.6000")
    issue_18 += ("scale.predict.6000",)
    for key in issue_18:
        assert "median" in cases[key], cases[key]
    assert payload["facts"]["imports_torch"]["startup.cached_plugins_show"] is False
    modes = ("csv-pandas", "csv", "parquet", "feather")
    checksums = {cases[f"formats.{mode}"]["median"]["checksum"] for mode in modes}
    assert len(checksums) == 1  # the same tensors from every format
    assert any(r["group"] == "scale" and r["target"] == "<= 1.15x" for r in payload["rows"])

    text = (work / "benchmarks.md").read_text()
    assert "| fit | lightkit fit: fit_s, speed-up over plain Lightning |" in text
    assert "**Machine:**" in text
    assert "lightkit fit: fit_s" in proc.stdout  # the console table
    assert f"wrote {work / 'results.json'} and {work / 'benchmarks.md'}" in proc.stdout


def test_the_generated_section_replaces_only_itself(tmp_path):
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.report import update_docs
    finally:
        sys.path.remove(str(REPO))
    page = tmp_path / "benchmarks.md"
    page.write_text(
        "# Benchmarks\n\nProse that the run keeps.\n\n"
        "<!-- benchmark-results:begin -->\nold\n<!-- benchmark-results:end -->\n\nMore prose.\n"
    )
    update_docs(page, "new table\n")
    text = page.read_text()
    assert "Prose that the run keeps." in text and "More prose." in text
    assert "new table" in text and "\nold\n" not in text
