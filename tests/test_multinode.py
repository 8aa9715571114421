"""Two "nodes" on loopback: ranks started separately (by hand, torchrun, SLURM), one run directory.

Each node is its own launch of ``lightkit fit`` with ``--trainer.num_nodes 2 --trainer.devices 1``,
as on two machines; the processes meet over gloo on 127.0.0.1. These are the commands of
docs/distributed.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS

pytestmark = pytest.mark.slow

TWO_NODES = (
    "--trainer.strategy", "ddp", "--trainer.accelerator", "cpu",
    "--trainer.devices", "1", "--trainer.num_nodes", "2",
)  # fmt: skip
#: the variables a launcher sets; none may come from the test process's own environment
_LAUNCHER_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "WORLD_SIZE", "RANK", "LOCAL_RANK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARIABLES and not k.startswith("SLURM_")}
    env.pop("LIGHTKIT_RUN_DIR", None)
    return env


def _launch(workdir: Path, commands: list[tuple[list[str], dict[str, str]]]) -> list[str]:
    """Start every node's command at once; wait for all (bounded); their output, node by node."""
    procs, outputs = [], []
    try:
        for node, (argv, env) in enumerate(commands):
            out = open(workdir / f"node{node}.txt", "w")  # noqa: SIM115 - closed below
            outputs.append(out)
            procs.append(
                subprocess.Popen(
                    argv, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        for proc in procs:
            proc.wait(timeout=600)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # torchrun's workers too
            proc.wait(timeout=60)
        for out in outputs:
            out.close()
    texts = [(workdir / f"node{n}.txt").read_text() for n in range(len(commands))]
    for proc, text in zip(procs, texts, strict=True):
        assert proc.returncode == 0, text[-4000:]
    return texts


def _by_hand(workdir: Path, args: list[str]) -> list[str]:
    """Lightning's own variables, set by hand on each node (a plain ``LightningEnvironment``)."""
    port = str(_free_port())
    nodes = []
    for rank in range(2):
        env = {**_clean_env(), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NODE_RANK": str(rank),
               "WORLD_SIZE": "2"}  # fmt: skip
        nodes.append(([sys.executable, "-m", "lightkit", *args, *TWO_NODES], env))
    return _launch(workdir, nodes)


def _torchrun(workdir: Path, args: list[str], rdzv_id: str) -> list[str]:
    port = str(_free_port())
    nodes = []
    for rank in range(2):
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                    "--node_rank", str(rank), "--master_addr", "127.0.0.1", "--master_port", port,
                    "--rdzv_id", rdzv_id]  # fmt: skip
        nodes.append(([*launcher, "-m", "lightkit", *args, *TWO_NODES], _clean_env()))
    return _launch(workdir, nodes)


def _srun(workdir: Path, args: list[str], job: str) -> list[str]:
    """What ``srun`` sets for a job of two nodes with one task each (Lightning's ``SLURMEnvironment``)."""
    port = str(_free_port())
    nodes = []
    for rank in range(2):
        env = {**_clean_env(), "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "1", "SLURM_NNODES": "2",
               "SLURM_PROCID": str(rank), "SLURM_LOCALID": "0", "SLURM_NODEID": str(rank),
               "SLURM_JOB_ID": job, "SLURM_JOB_NAME": "wine-ddp", "SLURM_NODELIST": "127.0.0.1",
               "MASTER_PORT": port}  # fmt: skip
        nodes.append(([sys.executable, "-m", "lightkit", *args, *TWO_NODES], env))
    return _launch(workdir, nodes)


def _fit(config: str, epochs: int, *more: str) -> list[str]:
    return ["fit", "--config", config, "--trainer.max_epochs", str(epochs), *more]


def _state(run: Path) -> dict:
    return json.loads((run / "state.json").read_text())


def _last_val_acc(run: Path) -> float:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_acc")]
    return float(rows[-1]["val_acc"])


def _one_run(workdir: Path) -> Path:
    runs = [p for p in (workdir / "runs").iterdir() if p.is_dir() and p.name != "sweeps"]
    assert len(runs) == 1, runs  # one run directory for both nodes
    run = runs[0]
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    return run


@pytest.fixture
def wine(workdir: Path) -> str:
    return str(CONFIGS / "wine_mlp.yaml")


def test_two_nodes_by_hand_train_one_run_that_resumes_on_two_nodes_and_on_one(workdir: Path, wine: str):
    from lightkit.checkpoints import load_checkpoint

    _by_hand(workdir, _fit(wine, 2, "--run.name", "two"))
    run = _one_run(workdir)
    assert run.name == "two"
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 1  # epochs 0 and 1
    assert "LIGHTKIT_RUN_DIR" not in os.environ

    single = subprocess.run(
        [sys.executable, "-m", "lightkit", *_fit(wine, 2, "--run.name", "single")], cwd=workdir,
        env=_clean_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    # 36 validation rows; DDP takes half the steps of twice the rows, so within one row of one process
    assert abs(_last_val_acc(run) - _last_val_acc(workdir / "runs" / "single")) <= 1 / 36 + 1e-6

    _by_hand(workdir, _fit(wine, 3, "--ckpt_path", "last", "--run.name", "two"))  # two nodes again
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 2
    # on one process: num_nodes 2 comes back with the run's config, and alone it is refused at once
    resume_here = _fit(wine, 4, "--ckpt_path", "last", "--run.name", "two")
    alone = subprocess.run(
        [sys.executable, "-m", "lightkit", *resume_here], cwd=workdir, env=_clean_env(),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert alone.returncode == 2 and "--trainer.num_nodes is 2" in alone.stderr, alone.stderr[-3000:]
    assert "Traceback" not in alone.stderr
    one = subprocess.run(
        [sys.executable, "-m", "lightkit", *resume_here, "--trainer.num_nodes", "1"], cwd=workdir,
        env=_clean_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 3
    assert _state(run)["state"] == "finished"
    assert _state(run).get("parts") == 3
    epochs = [int(float(r)) for r in _metric_column(run, "epoch")]
    assert sorted(set(epochs)) == [0, 1, 2, 3] and epochs == sorted(epochs)  # nothing written twice


def _metric_column(run: Path, name: str) -> list[str]:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return [r[name] for r in csv.DictReader(f) if r.get("val_acc")]


def test_two_nodes_under_torchrun_name_the_run_by_the_rendezvous_id(workdir: Path, wine: str):
    texts = _torchrun(workdir, _fit(wine, 2), rdzv_id="wine2x1")
    run = _one_run(workdir)
    assert run.name == "TabularMLP-SklearnDataModule-wine2x1"  # no --run.name: both ranks agree on it
    assert "run directory:" in texts[0] and "run directory:" not in texts[1]  # rank 0 reports


def test_two_nodes_under_slurm_name_the_run_by_the_job_id(workdir: Path, wine: str):
    _srun(workdir, _fit(wine, 2), job="4242")
    run = _one_run(workdir)
    assert run.name == "TabularMLP-SklearnDataModule-slurm4242"
