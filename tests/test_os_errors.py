"""Errors from the operating system end as one line naming the path, never a traceback.

A locked (immutable) run directory, a TensorBoard writer thread that cannot write, a full disk:
each is reported as ``error: <what the OS said>: '<path>'`` with a hint, and no thread's
traceback leaks. The immutable cases need ``chattr`` (root with CAP_LINUX_IMMUTABLE) and are
skipped elsewhere.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CONFIGS, Result
from test_bad_inputs import assert_clean

WINE = str(CONFIGS / "wine_mlp.yaml")
QUIET = ("--trainer.enable_model_summary", "false")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lightkit.cli import main

    root = tmp_path_factory.mktemp("runs")
    args = ["fit", "--config", WINE, "--trainer.max_epochs", "1", "--run.name", "wine", *QUIET]
    assert main([*args, "--trainer.default_root_dir", str(root)]) == 0
    return root / "wine"


@pytest.fixture
def run(trained: Path, workdir: Path) -> Path:
    copy = workdir / "runs" / "wine"
    shutil.copytree(trained, copy)
    return copy


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i path`` for the block (even root cannot write into it), or skip the test."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False) if shutil.which("chattr") else None
    if done is None or done.returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _files(run: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_resume_into_an_immutable_run_directory(lightkit, run: Path):
    before = _files(run)
    with immutable(run):
        result = lightkit("fit", "--ckpt_path", "last", "--run.name", "wine", "--trainer.max_epochs", "2")
        assert_clean(result, 1, "cannot write in run directory 'runs/wine'", "operation not permitted", "immutable")
    assert _files(run) == before


def test_predict_into_an_immutable_run_directory(lightkit, run: Path):
    before = _files(run)
    with immutable(run):
        result = lightkit("predict", "--ckpt_path", "runs/wine")
        assert_clean(result, 1, "runs/wine", "not permitted")
    assert _files(run) == before


def test_tensorboard_thread_that_cannot_write_leaks_no_traceback(run: Path, workdir: Path):
    """TensorBoard writes from a thread of its own; its failure is one line, in a real process."""
    with immutable(run / "tensorboard"):
        proc = subprocess.run(
            [sys.executable, "-m", "lightkit", "fit", "--ckpt_path", "last", "--run.name", "wine",
             "--trainer.max_epochs", "2", *QUIET],
            cwd=workdir, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    message = assert_clean(Result(proc.returncode, proc.stdout, proc.stderr), 1, "runs/wine/tensorboard/events.out")
    assert "not permitted" in message
    assert "Exception in thread" not in proc.stderr and "File \"" not in proc.stderr


@pytest.mark.parametrize(
    ("err", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "runs/x/checkpoints/last.ckpt"),
         ("no space left on device: 'runs/x/checkpoints/last.ckpt'", "free some space")),
        (OSError(errno.ENOSPC, "No space left on device"), ("no space left on device", "free some space")),
        (PermissionError(errno.EACCES, "Permission denied", "runs/x/metrics.csv"),
         ("permission denied: 'runs/x/metrics.csv'", "permissions")),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "out.csv"), ("is a directory: 'out.csv'", "not a directory")),
        (PermissionError(errno.EPERM, "Operation not permitted", b"runs/x/tensorboard/ev"),
         ("operation not permitted: 'runs/x/tensorboard/ev'", "immutable")),
    ],
    ids=["disk full", "disk full, no path", "permission", "a directory", "bytes path"],
)  # fmt: skip
def test_os_errors_become_one_line_naming_the_path(err: OSError, words: tuple[str, ...], capsys: pytest.CaptureFixture[str]):
    from lightkit.render import explain, print_error

    wrapped = RuntimeError("while writing")
    wrapped.__cause__ = err
    assert print_error(explain(wrapped)) == 1
    assert_clean(Result(1, "", capsys.readouterr().err), 1, *words)


def test_a_thread_error_the_command_did_not_report_is_one_warning_line(capsys: pytest.CaptureFixture[str]):
    import threading

    from lightkit.render import capture_thread_errors, report_thread_errors

    previous = capture_thread_errors()
    worker = threading.Thread(target=lambda: open("/nonexistent-dir/x", "w"), name="writer")  # noqa: SIM115
    worker.start()
    worker.join()
    report_thread_errors(previous)
    err = capsys.readouterr().err
    assert threading.excepthook is previous
    assert err == "warning: a background thread stopped: no such file or directory: '/nonexistent-dir/x'\n"
