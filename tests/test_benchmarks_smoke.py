"""The benchmark suite runs end to end at tiny sizes and writes its outputs (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_benchmark_smoke_run_measures_every_group_and_writes_json_and_markdown(tmp_path):
    results, docs = tmp_path / "results.json", tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\nProse that the run keeps.\n\n"
        "<!-- benchmark-results:begin -->\nold\n<!-- benchmark-results:end -->\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--smoke",
            "--workdir",
            str(tmp_path / "work"),
            "--results",
            str(results),
            "--docs",
            str(docs),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    payload = json.loads(results.read_text())
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
    assert any(r["target"] == ">= 2x" for r in payload["rows"])

    text = docs.read_text()
    assert "Prose that the run keeps." in text and "old" not in text.split("begin")[1]
    assert "| fit | lightkit fit: fit_s, speed-up over plain Lightning |" in text
    assert "**Machine:**" in text
    assert "lightkit fit: fit_s" in proc.stdout  # the console table
