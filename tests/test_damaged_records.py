"""Nothing invented: a run record that does not parse is reported as damaged, by path.

``lightkit runs list`` still lists every other run, and no state or duration is made up from a
damaged ``state.json``. The runs here are written by hand (no training); each test checks that
the records are byte-identical afterwards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_bad_inputs import assert_clean

CONFIG = "model:\n  class_path: lightkit.components.TabularMLP\ndata:\n  class_path: SklearnDataModule\n  init_args:\n    dataset: wine\n"
METRICS = "epoch,step,val_loss\n0,4,0.9\n1,9,0.5\n"


def _run(root: Path, name: str, **files: str | bytes) -> Path:
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    start = time.time() - 100
    record = {"pid": 999999, "host": "elsewhere", "started": start, "ended": start + 42, "state": "finished"}
    base = {"config.yaml": CONFIG, "metrics.csv": METRICS, "state.json": json.dumps(record)}
    for file_name, content in {**base, **files}.items():
        path = run / file_name.replace("__", ".")
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return run


def _records(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


DAMAGE = {
    "truncated state.json": ("state.json", '{"pid": 1, "state": "fini', "not valid JSON"),
    "state.json that is a list": ("state.json", '["finished"]', "a JSON list, not an object"),
    "unknown state": ("state.json", '{"state": "done", "started": 1}', "'state' is 'done'"),
    "start time that is text": ("state.json", '{"state": "finished", "started": "yesterday"}', "'started' is 'yesterday'"),
    "ends before it starts": ("state.json", '{"state": "finished", "started": 200, "ended": 100}', "ends before it starts"),
}  # fmt: skip


@pytest.mark.parametrize(("name", "content", "why"), DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_state_is_shown_as_damaged_with_no_duration(lightkit, workdir: Path, name: str, content: str, why: str):
    root = workdir / "runs"
    _run(root, "good")
    _run(root, "bad", **{name: content})
    before = _records(root)
    listed = lightkit("runs", "list")
    assert listed.code == 0, listed.err
    assert "Traceback" not in listed.err
    rows = {line.split()[0]: line for line in listed.out.splitlines()[2:]}
    assert "finished" in rows["good"] and "42s" in rows["good"]
    assert "damaged" in rows["bad"] and "finished" not in rows["bad"] and "42s" not in rows["bad"]
    assert f"damaged record runs/bad/{name}" in listed.err and why in listed.err
    shown = lightkit("runs", "show", "runs/bad")
    assert shown.code == 0, shown.err
    heads = {line.split()[0]: line.split()[1:] for line in shown.out.splitlines() if line.strip()}
    assert heads["state"] == ["damaged"] and heads["duration"] == ["-"]
    assert why in shown.out
    assert _records(root) == before


def test_undecodable_metrics_leave_every_other_run_listed(lightkit, workdir: Path):
    root = workdir / "runs"
    _run(root, "good")
    _run(root, "bad", **{"metrics.csv": b"epoch,val_loss\n0,0.5\xff\xfe\n"})
    before = _records(root)
    listed = lightkit("runs", "list")
    assert listed.code == 0 and "Traceback" not in listed.err
    assert "good" in listed.out and "bad" in listed.out
    assert "metrics.csv: not UTF-8 text (byte 0xff on line 2)" in listed.err
    shown = lightkit("runs", "show", "runs/bad")
    assert shown.code == 0 and "not UTF-8" in shown.out
    assert _records(root) == before


def test_plot_of_a_damaged_run_is_a_clean_error(lightkit, workdir: Path):
    root = workdir / "runs"
    _run(root, "bad", **{"metrics.csv": b"epoch,val_loss\n0,\xff\n"})
    before = _records(root)
    assert_clean(lightkit("runs", "plot", "runs/bad", "--metric", "val_loss"), 2, "'val_loss'", "metrics.csv")
    assert _records(root) == before


def test_a_line_being_written_is_not_damage(workdir: Path):
    """A running run's metrics.csv may end in half a line; that is not a damaged record."""
    from lightkit.runs.damage import record_problems

    run = _run(workdir / "runs", "live", **{"metrics.csv": METRICS + "2,14"})
    assert record_problems(run) == {}
    (run / "metrics.csv").write_text(METRICS + "2,14\n")
    assert record_problems(run) == {"metrics.csv": "line 4 has 2 fields, the header 3"}


def test_hostile_config_yaml_of_a_run_is_damaged(lightkit, workdir: Path):
    bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8)
    )
    root = workdir / "runs"
    _run(root, "bad", **{"config.yaml": bomb})
    listed = lightkit("runs", "list")
    assert listed.code == 0 and "config.yaml" in listed.err and "100,000" in listed.err
