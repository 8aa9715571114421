"""Faults, with real processes and real signals: kill -9 then resume, a crash in the middle of a
checkpoint write, SIGTERM from a scheduler, and a loss that turns NaN.

Each test starts ``python -m lightkit fit`` (or a small writer script) in a subprocess and waits
for a file to appear before signalling it; the runs are bounded by ``max_epochs``, so a broken
run ends by itself instead of hanging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning  # noqa: F401 - imported at collection, so its log handler binds to the session's stderr
import pytest
import torch
from conftest import CONFIGS

WINE = str(CONFIGS / "wine_mlp.yaml")


def _start(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python ARGS`` in ``workdir``, with stdout and stderr going to files there."""
    with open(workdir / "proc.out", "w") as out, open(workdir / "proc.err", "w") as err:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=workdir,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            # a shell's background jobs ignore SIGINT, and Python then installs no Ctrl-C handler:
            # give the child the default disposition, as a terminal would
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def _start_fit(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    fit = ["-m", "lightkit", "fit", "--config", WINE, "--trainer.enable_model_summary", "false"]
    return _start(workdir, *fit, *args, env=env)


def _wait_for(path: Path, proc: subprocess.Popen, min_size: int = 1) -> None:
    """Poll until ``path`` exists with ``min_size`` bytes; fail if the process ends first."""
    while not (path.exists() and path.stat().st_size >= min_size):
        if proc.poll() is not None:
            raise AssertionError(f"process ended ({proc.returncode}) before {path} appeared:\n{_stderr(path)}")
        time.sleep(0.005)


def _stderr(somewhere: Path) -> str:
    folder = somewhere if somewhere.is_dir() else next(p for p in somewhere.parents if (p / "proc.err").exists())
    return (folder / "proc.err").read_text()


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_kill_9_during_fit_then_resume_from_last(lightkit, workdir: Path):
    proc = _start_fit(workdir, "--trainer.max_epochs", "1000", "--run.name", "k9")
    last = workdir / "runs" / "k9" / "checkpoints" / "last.ckpt"
    _wait_for(last, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    killed = _load(last)  # whatever the moment of the kill, last.ckpt is whole
    epochs = killed["epoch"] + 3

    resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", "k9", "--trainer.max_epochs", str(epochs))
    assert resumed.code == 0, resumed.err
    assert "epoch 1/" not in resumed.out  # it continued, it did not start over
    assert f"epoch {epochs}/{epochs}" in resumed.out
    final = _load(last)
    assert final["epoch"] == epochs - 1 and final["global_step"] > killed["global_step"]


WRITER = """
import sys
import torch
from pathlib import Path
from lightkit.training.checkpoint_io import AtomicCheckpointIO

target = Path(sys.argv[1])
io = AtomicCheckpointIO()
io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "tag": "good"}, target)
Path(sys.argv[2]).write_text("first checkpoint written")
io.save_checkpoint({"state_dict": {"w": torch.zeros(64_000_000)}, "tag": "big"}, target)  # 256 MB
"""


def test_a_crash_in_the_middle_of_a_write_leaves_last_ckpt_whole(workdir: Path):
    (workdir / "writer.py").write_text(WRITER)
    target, ready = workdir / "checkpoints" / "last.ckpt", workdir / "ready"
    proc = _start(workdir, "writer.py", str(target), str(ready))
    _wait_for(ready, proc)
    while not (tmp := list(target.parent.glob(".last.ckpt.*.tmp"))) or tmp[0].stat().st_size < 1 << 20:
        assert proc.poll() is None, _stderr(workdir)
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert list(target.parent.glob(".last.ckpt.*.tmp")), "the kill was meant to land mid-write"
    assert _load(target)["tag"] == "good"  # the old file, untouched and complete
    assert [p.name for p in target.parent.glob("*.ckpt")] == ["last.ckpt"]  # the partial file is never offered


def _wait_for_epoch(last: Path, proc: subprocess.Popen, epoch: int) -> None:
    """Poll until ``last.ckpt`` holds at least ``epoch`` (0-based); fail if the process ends first."""
    while True:
        _wait_for(last, proc)
        if _load(last)["epoch"] >= epoch:  # the file is replaced whole, so it always loads
            return
        assert proc.poll() is None, _stderr(last)
        time.sleep(0.01)


def _epochs_logged(run: Path) -> list[int]:
    """The epoch of every epoch-level validation row of ``metrics.csv``."""
    import csv

    with open(run / "metrics.csv", newline="") as handle:
        return [int(float(r["epoch"])) for r in csv.DictReader(handle) if r.get("val_loss")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signal_", "code", "said"),
    [(signal.SIGKILL, -signal.SIGKILL, None), (signal.SIGTERM, 143, "received SIGTERM"), (signal.SIGINT, 130, "interrupted (Ctrl-C)")],
    ids=["kill-9", "SIGTERM", "Ctrl-C"],
)
def test_a_stopped_run_resumes_exactly(lightkit, workdir: Path, signal_: signal.Signals, code: int, said: str | None):
    """Stopped at any moment and resumed from ``last``, a run ends with the weights of one never stopped."""
    epochs = "30"
    proc = _start_fit(workdir, "--trainer.max_epochs", epochs, "--run.name", "stopped")
    last = workdir / "runs" / "stopped" / "checkpoints" / "last.ckpt"
    try:
        _wait_for_epoch(last, proc, 2)
        proc.send_signal(signal_)
        assert proc.wait(timeout=120) == code, _stderr(workdir)
    finally:
        proc.kill()
    err = _stderr(workdir)
    assert "Traceback" not in err
    stopped_at = _load(last)["epoch"]
    assert stopped_at >= 2
    if said is not None:
        assert said in err and "holds the last complete epoch" in err
        assert "resume with: lightkit fit --ckpt_path last --run.name stopped" in err

    resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", "stopped", "--trainer.max_epochs", epochs)
    assert resumed.code == 0, resumed.err
    assert f"epoch {stopped_at + 2}/{epochs}" in resumed.out and "epoch 1/" not in resumed.out
    straight = lightkit("fit", "--config", WINE, "--trainer.max_epochs", epochs, "--run.name", "straight",
                        "--trainer.enable_model_summary", "false")  # fmt: skip
    assert straight.code == 0, straight.err
    a, b = _load(workdir / "runs/straight/checkpoints/last.ckpt"), _load(last)
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (29, a["global_step"])
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    logged = _epochs_logged(workdir / "runs" / "stopped")
    assert logged == list(range(30)), logged  # every epoch once, in order


NAN_MODEL = '''
from lightkit.components.tabular_mlp import TabularMLP


class NaNInSecondEpoch(TabularMLP):
    """TabularMLP whose training loss turns NaN once the first epoch is done."""

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        return loss * float("nan") if self.current_epoch >= 1 else loss
'''


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(workdir: Path):
    (workdir / "nan_model.py").write_text(NAN_MODEL)
    proc = _start_fit(
        workdir, "--model", "nan_model.NaNInSecondEpoch", "--trainer.max_epochs", "5", "--run.name", "nan",
        env={"PYTHONPATH": str(workdir)},
    )
    assert proc.wait() == 1
    err = _stderr(workdir)
    assert "Traceback" not in err
    last = workdir / "runs" / "nan" / "checkpoints" / "last.ckpt"
    good = _load(last)
    steps_per_epoch = good["global_step"]  # saved at the end of epoch 0
    assert good["epoch"] == 0
    assert f"error: training loss is nan at epoch 1, global step {steps_per_epoch} " in err
    assert "kept in runs/nan/checkpoints: best.ckpt, last.ckpt" in err and "--model.lr" in err
    assert all(torch.isfinite(t).all() for t in good["state_dict"].values() if t.is_floating_point())
