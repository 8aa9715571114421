"""One command at a time writes into a run: two real processes on one run directory.

The holder is a real ``lightkit fit`` process. Once it holds the run's lock it is paused
(SIGSTOP), so that nothing in the run changes while the others are refused; then it is killed
with ``-9`` and the run resumes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import CONFIGS, Result
from test_bad_inputs import assert_clean

WINE = str(CONFIGS / "wine_mlp.yaml")
QUIET = ("--trainer.enable_model_summary", "false")


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != ".lock"}


def _wait_for_lock(run: Path, proc: subprocess.Popen, bound_s: float = 300.0) -> None:
    """Poll until ``proc`` holds the run's lock (a bound, not a timing assertion)."""
    from lightkit.runs.lock import lock_holder

    deadline = time.monotonic() + bound_s
    while lock_holder(run) != proc.pid:
        assert proc.poll() is None, f"the holder ended first:\n{proc.stderr.read() if proc.stderr else ''}"
        assert time.monotonic() < deadline, "the holder never took the lock"
        time.sleep(0.2)


def test_second_fit_on_a_locked_run_is_refused_and_resume_works_after_kill_9(lightkit, workdir: Path):
    assert lightkit("fit", "--config", WINE, "--trainer.max_epochs", "1", "--run.name", "k9", *QUIET).code == 0
    run = workdir / "runs" / "k9"
    holder = subprocess.Popen(
        [sys.executable, "-m", "lightkit", "fit", "--ckpt_path", "last", "--run.name", "k9",
         "--trainer.max_epochs", "100000", *QUIET],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_lock(run, holder)
        os.kill(holder.pid, signal.SIGSTOP)  # nothing in the run changes from here on
        before = _snapshot(run)

        second = subprocess.run(
            [sys.executable, "-m", "lightkit", "fit", "--ckpt_path", "last", "--run.name", "k9"],
            cwd=workdir, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        message = assert_clean(
            Result(second.returncode, second.stdout, second.stderr), 1,
            "run 'runs/k9' is in use", f"process {holder.pid}", "--run.name k9", f"kill {holder.pid}",
        )  # fmt: skip
        assert "nothing to clean up" in message

        # predict and test into a run being trained are refused as well, in this process
        assert_clean(lightkit("predict", "--ckpt_path", "runs/k9"), 1, "'runs/k9' is in use", str(holder.pid))
        assert_clean(lightkit("test", "--ckpt_path", "runs/k9"), 1, "'runs/k9' is in use", str(holder.pid))
        assert _snapshot(run) == before
        assert "running" in lightkit("runs", "list").out

        holder.kill()  # kill -9: the kernel drops the lock with the process
        holder.wait(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=60)
        if holder.stderr:
            holder.stderr.close()

    from lightkit.runs import read_metrics
    from lightkit.runs.lock import lock_holder

    assert lock_holder(run) is None
    assert "running" not in lightkit("runs", "list").out  # the lock went with the process
    resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", "k9", "--trainer.max_epochs", "2", *QUIET)
    assert resumed.code == 0, resumed.err
    epochs = [int(r["epoch"]) for r in read_metrics(run) if "val_loss" in r]
    assert epochs == [0, 1]  # each epoch once, in order


def test_writers_exclude_everyone_readers_share_and_nothing_stale_is_left(workdir: Path):
    """fit-like (exclusive) and test-like (shared) locks across real processes."""
    from lightkit.runs.lock import lock_run

    def other(shared: bool) -> subprocess.CompletedProcess:
        code = (
            "import sys\nfrom lightkit.runs.lock import RunInUse, lock_run\n"
            f"try:\n    lock_run('r', 'lightkit other', shared={shared})\n"
            "except RunInUse as err:\n    print(err); sys.exit(3)\n"
        )
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    writer = lock_run("r", "lightkit fit first")
    try:
        refused = other(shared=False)
        assert refused.returncode == 3
        assert f"'r' is in use by process {os.getpid()} (lightkit fit first)" in refused.stdout
        assert other(shared=True).returncode == 3
    finally:
        writer.release()
    reader = lock_run("r", "lightkit test", shared=True)
    try:
        assert other(shared=True).returncode == 0  # readers together
        assert other(shared=False).returncode == 3  # but no writer while one reads
    finally:
        reader.release()
    assert other(shared=False).returncode == 0  # released by exit: nothing stale
