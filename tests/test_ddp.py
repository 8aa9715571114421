"""Distributed data parallel on CPU: two gloo processes, one run directory, metrics over all ranks."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS

EPOCHS = 2


def test_tensor_batch_loader_gives_each_rank_its_own_equal_shard():
    from lightkit.data.tensor_loader import TensorBatchLoader

    rows = {"x": torch.arange(11).reshape(-1, 1)}
    seen = []
    for rank in range(2):
        loader = TensorBatchLoader(
            rows, batch_size=4, shuffle=True, seed=3, epoch_fn=lambda: 0, rank=rank, world_size=2
        )
        batches = [b["x"].reshape(-1).tolist() for b in loader]
        assert len(batches) == len(loader) == 2  # 6 rows per rank (11 padded to 12), batches of 4
        seen.append([i for b in batches for i in b])
    assert len(seen[0]) == len(seen[1]) == 6
    assert set(seen[0]) | set(seen[1]) == set(range(11))  # every row, one wrapped around as padding
    assert len(set(seen[0]) & set(seen[1])) <= 1


def test_unpadded_shards_serve_every_row_once_and_say_which():
    from lightkit.data.tensor_loader import TensorBatchLoader

    rows = {"x": torch.arange(27).reshape(-1, 1) * 10}
    served, said = [], []
    for rank in range(2):
        loader = TensorBatchLoader(rows, batch_size=4, rank=rank, world_size=2, pad=False)
        assert loader.row_indices().tolist() == list(range(rank, 27, 2))  # known before the epoch
        batches = [b["x"].reshape(-1).tolist() for b in loader]
        assert len(batches) == len(loader) == 4  # 14 rows on rank 0 and 13 on rank 1, batches of 4
        served.append([v // 10 for b in batches for v in b])
        said.append(loader.row_indices().tolist())
    assert [len(s) for s in served] == [14, 13]
    assert served == said  # row_indices() names exactly the rows each rank served, in order
    assert sorted(served[0] + served[1]) == list(range(27))  # every row once, none twice


def test_the_built_in_data_shards_test_and_predict_without_padding():
    from types import SimpleNamespace

    from lightkit.components.sklearn_data import SklearnDataModule

    shares = {}
    for rank in range(2):
        data = SklearnDataModule(dataset="wine", test_fraction=0.15)
        data.trainer = SimpleNamespace(global_rank=rank, world_size=2, current_epoch=0)
        data.setup("fit")
        data.setup("test")
        data.setup("predict")
        shares[rank] = {
            split: (loader.rows_per_rank, loader.pad)
            for split, loader in (("train", data.train_dataloader()), ("test", data.test_dataloader()),
                                  ("predict", data.predict_dataloader()))
        }  # fmt: skip
    test_rows = len(data._splits["test"]["x"])
    assert test_rows % 2 == 1  # an odd split, so padding would show
    assert shares[0]["test"][0] + shares[1]["test"][0] == test_rows
    assert shares[0]["train"] == shares[1]["train"] and shares[0]["train"][1] is True
    assert shares[0]["predict"][1] is shares[0]["test"][1] is False


def _val_metrics_of(ckpt: Path) -> tuple[float, float]:
    """Accuracy and loss of a checkpoint on the whole validation split, in this process."""
    from lightkit.checkpoints import load_checkpoint
    from lightkit.components.sklearn_data import SklearnDataModule
    from lightkit.components.tabular_mlp import TabularMLP

    model = TabularMLP.load_from_checkpoint(ckpt, weights_only=True).eval()
    data = SklearnDataModule(dataset="wine", batch_size=32)
    data.load_state_dict(load_checkpoint(ckpt)["SklearnDataModule"])
    data.setup("fit")
    batch = data._splits["val"]
    with torch.no_grad():
        logits = model(batch["x"])
    loss = torch.nn.functional.cross_entropy(logits, batch["y"]).item()
    return (logits.argmax(1) == batch["y"]).float().mean().item(), loss


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_writes_one_run_with_metrics_over_all_ranks(workdir: Path):
    # no --run.name: the default, time-stamped name must be the same on every rank
    args = [
        "fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--trainer.max_epochs", str(EPOCHS),
        "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "LIGHTKIT_SHOW_WARNINGS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "lightkit", *args], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr
    assert "Starting with 2 processes" in proc.stderr
    assert "sync_dist=True" not in proc.stderr  # every epoch-level metric is reduced across ranks

    # one run directory, one set of checkpoints
    runs = list((workdir / "runs").iterdir())
    assert len(runs) == 1, [p.name for p in runs]
    run = runs[0]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert (run / "config.yaml").is_file() and (run / "metrics.csv").is_file()

    # each rank trained on half of the rows: half the steps of a single process
    from lightkit.checkpoints import load_checkpoint
    from lightkit.components.sklearn_data import SklearnDataModule

    data = SklearnDataModule(dataset="wine", batch_size=32)
    data.setup("fit")
    train_rows = len(data._splits["train"]["y"])
    steps_per_rank_epoch = math.ceil(math.ceil(train_rows / 2) / 32)
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == EPOCHS * steps_per_rank_epoch

    # the logged validation metrics are those of the whole validation split, not rank 0's half
    with open(run / "metrics.csv", newline="") as f:
        last = [r for r in csv.DictReader(f) if r.get("val_loss")][-1]
    accuracy, loss = _val_metrics_of(run / "checkpoints" / "last.ckpt")
    assert float(last["val_acc"]) == pytest.approx(accuracy, abs=1e-6)
    assert float(last["val_loss"]) == pytest.approx(loss, rel=1e-4)


# -- distributed predict ---------------------------------------------------------------------------------
DDP2 = ("--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu")

LOADER_DATA = '''
"""Wine, with predict batches from a torch DataLoader: Lightning shards it across DDP ranks."""
from torch.utils.data import DataLoader, Dataset

from lightkit.components.sklearn_data import SklearnDataModule


class _Rows(Dataset):
    def __init__(self, split):
        self.split = split

    def __len__(self):
        return len(self.split["x"])

    def __getitem__(self, i):
        return {name: t[i] for name, t in self.split.items()}


class LoaderWine(SklearnDataModule):
    def predict_dataloader(self):
        if "predict" not in self._splits:
            self.setup("predict")
        return DataLoader(_Rows(self._splits["predict"]), batch_size=5, shuffle=False)
'''


def test_rows_of_all_ranks_are_put_back_in_input_order_once():
    from lightkit.components.prediction_writer import _in_input_order

    index = torch.tensor([0, 2, 4, 0, 1, 3, 5])  # rank 0 padded by wrapping around to row 0
    rows = torch.tensor([[10.0], [12.0], [14.0], [10.0], [11.0], [13.0], [15.0]])
    assert _in_input_order(rows, index).reshape(-1).tolist() == [10, 11, 12, 13, 14, 15]


def _predict_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same_rows(ddp: list[dict[str, str]], single: list[dict[str, str]]) -> None:
    assert len(ddp) == len(single) and len(single) > 0
    assert [r["row"] for r in ddp] == [r["row"] for r in single]  # same order, no duplicate
    assert len({r["row"] for r in ddp}) == len(ddp)
    assert sum(key.startswith("prob_") for key in single[0]) == 3  # wine: three classes
    for a, b in zip(ddp, single, strict=True):
        assert a.keys() == b.keys()
        assert a["prediction"] == b["prediction"]
        for key in a:
            if key.startswith("prob_"):
                assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-6)


def _ddp_predict(workdir: Path, run: str, output: str, pythonpath: str = "") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH", "")) if p),
    }
    args = ["predict", "--ckpt_path", str(workdir / "runs" / run), *DDP2, "--run.output", output]
    return subprocess.run(
        [sys.executable, "-m", "lightkit", *args], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_ddp_predict_writes_the_single_process_rows_once_in_input_order(lightkit, workdir: Path):
    fit = lightkit(
        "fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--trainer.max_epochs", "2", "--run.name", "wine"
    )
    assert fit.code == 0, fit.err
    single = lightkit("predict", "--ckpt_path", str(workdir / "runs" / "wine"), "--run.output", "single.csv")
    assert single.code == 0, single.err
    proc = _ddp_predict(workdir, "wine", "ddp.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting with 2 processes" in proc.stderr
    assert proc.stderr.count("predictions written to") == 1  # rank 0 writes, once
    _same_rows(_predict_csv(workdir / "ddp.csv"), _predict_csv(workdir / "single.csv"))


@pytest.mark.slow
def test_ddp_predict_gathers_the_shards_of_a_dataloader(lightkit, workdir: Path, monkeypatch):
    # a DataLoader is sharded by Lightning (rank r gets rows r, r+2, ...): rank 0 alone has half the rows
    (workdir / "lkt_loader_data.py").write_text(LOADER_DATA)
    monkeypatch.syspath_prepend(str(workdir))
    fit = lightkit(
        "fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--data", "lkt_loader_data.LoaderWine",
        "--data.dataset", "wine", "--trainer.max_epochs", "2", "--run.name", "loader",
    )  # fmt: skip
    assert fit.code == 0, fit.err
    single = lightkit(
        "predict", "--ckpt_path", str(workdir / "runs" / "loader"), "--run.output", "single.csv"
    )
    assert single.code == 0, single.err
    proc = _ddp_predict(workdir, "loader", "ddp.csv", pythonpath=str(workdir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _same_rows(_predict_csv(workdir / "ddp.csv"), _predict_csv(workdir / "single.csv"))


_METRIC_ROW = re.compile(r"^\W*(test_\w+)\W+([-+0-9.eE]+)\W*$")


def _test_metrics(stdout: str) -> dict[str, float]:
    """The figures of Lightning's "Test metric" table."""
    found = {}
    for line in stdout.splitlines():
        m = _METRIC_ROW.match(line.strip())
        if m:
            found[m[1]] = float(m[2])
    return found


@pytest.mark.slow
def test_ddp_test_metrics_equal_the_single_process_figures(lightkit, workdir: Path):
    # 27 test rows: 14 and 13 on the two ranks, so padding or an unweighted mean would show
    fit = lightkit(
        "fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--data.test_fraction", "0.15",
        "--trainer.max_epochs", "2", "--run.name", "odd",
    )  # fmt: skip
    assert fit.code == 0, fit.err
    figures = []
    for devices in ("1", "2"):
        args = ["test", "--ckpt_path", str(workdir / "runs" / "odd"), "--trainer.strategy", "ddp"]
        args += ["--trainer.devices", devices, "--trainer.accelerator", "cpu"]
        proc = subprocess.run(
            [sys.executable, "-m", "lightkit", *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        figures.append(_test_metrics(proc.stdout))
    single, ddp = figures
    assert set(single) == {"test_acc", "test_auroc", "test_f1", "test_loss"}
    assert ddp.keys() == single.keys()
    for name, value in single.items():
        assert ddp[name] == pytest.approx(value, rel=1e-5), name


# -- guard rails -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "processes"),
    [
        ({"accelerator": "cpu", "devices": 7}, 7),
        ({"accelerator": "cpu", "devices": "3"}, 3),
        ({"accelerator": "cpu", "devices": [0, 1, 2]}, 3),
        ({"accelerator": "cpu", "devices": "auto"}, 1),
        ({"accelerator": "gpu", "devices": 7}, None),
    ],
)
def test_cpu_processes_are_counted_from_the_trainer_config(config, processes):
    from lightkit.training.ranks import cpu_processes

    assert cpu_processes(config) == processes


def test_more_cpu_processes_than_cores_warn_or_are_refused(monkeypatch):
    from lightkit.errors import UsageError
    from lightkit.training import ranks

    monkeypatch.setattr(ranks, "cpu_cores", lambda: 2)
    seven = {"accelerator": "cpu", "devices": 7, "strategy": "ddp"}
    with pytest.warns(
        UserWarning, match=r"--trainer.devices 7 starts 7 CPU processes on a machine with 2 cores"
    ):
        assert "slower than with --trainer.devices 2" in ranks.check_cpu_processes(seven)
    with pytest.raises(UsageError, match="starts 7 CPU processes") as refused:
        ranks.check_cpu_processes(seven, refuse=True)
    assert refused.value.hint.startswith("use --trainer.devices 2 or fewer")
    assert ranks.check_cpu_processes({"accelerator": "cpu", "devices": 2}) is None


def test_several_nodes_without_a_way_to_find_them_are_refused():
    from lightkit.errors import UsageError
    from lightkit.training.ranks import check_num_nodes

    with pytest.raises(UsageError, match="--trainer.num_nodes is 2 .* started alone"):
        check_num_nodes({"num_nodes": 2}, environ={})
    check_num_nodes({"num_nodes": 1}, environ={})  # one node: nothing to find
    check_num_nodes({"num_nodes": 2}, environ={"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})


@pytest.mark.slow
def test_fit_warns_when_its_cpu_processes_outnumber_the_cores(workdir: Path):
    # one core allowed (the affinity mask, as taskset -c 0 gives it), two DDP processes asked for
    args = ["fit", "--config", str(CONFIGS / "wine_mlp.yaml"), *DDP2, "--trainer.fast_dev_run", "true"]
    proc = subprocess.run(
        [sys.executable, "-m", "lightkit", *args], cwd=workdir, capture_output=True, text=True, timeout=600,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("--trainer.devices 2 starts 2 CPU processes on a machine with 1 core") == 1


@pytest.mark.parametrize(
    ("config", "single"),
    [
        ({"accelerator": "cpu", "devices": 1}, True),
        ({"accelerator": "cpu", "devices": "auto"}, True),
        ({"accelerator": "gpu", "devices": [3]}, True),
        ({"accelerator": "cpu", "devices": 2}, False),
        ({"accelerator": "cpu", "devices": 1, "num_nodes": 2}, False),
        ({"accelerator": "gpu", "devices": "auto"}, False),  # all the GPUs there are
    ],
)
def test_a_single_process_run_is_told_from_a_distributed_one(config, single, monkeypatch):
    from lightkit.training.ranks import single_process

    for name in ("WORLD_SIZE", "MASTER_ADDR", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    assert single_process(config) is single
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert single_process(config) is False  # ranks started by hand: several processes


def test_cpu_cores_respect_the_affinity_mask():
    from lightkit.training.ranks import cpu_cores

    assert 1 <= cpu_cores() <= len(os.sched_getaffinity(0))


DIE_ON_RANK = '''
import os

import lightning.pytorch as pl


class DieOnRank(pl.Callback):
    """Kills this process (no exception, no cleanup) on one rank at the start of an epoch."""

    def __init__(self, rank: int = 1, epoch: int = 1) -> None:
        self.rank, self.epoch = rank, epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.global_rank == self.rank and trainer.current_epoch == self.epoch:
            os._exit(3)
'''


def _wait_for_group(pgid: int, limit_s: float) -> bool:
    """Wait until no process of the group is left; ``False`` if some still run after ``limit_s``."""
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("dead", [1, 0])
def test_a_rank_that_dies_is_named_by_the_ranks_that_stop(workdir: Path, dead: int):
    # rank 1 is a child of rank 0 (Lightning's launcher); when rank 0 dies, rank 1 is left alone.
    # lightkit adds RankWatch to every distributed run: the names come without --trainer.callbacks+=
    import signal
    import socket

    (workdir / "lkt_die.py").write_text(DIE_ON_RANK)
    args = [
        "fit", "--config", str(CONFIGS / "wine_mlp.yaml"), "--trainer.max_epochs", "3", *DDP2,
        "--trainer.callbacks+=lkt_die.DieOnRank", "--trainer.callbacks.rank", str(dead),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")])}
    with open(workdir / "out.txt", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lightkit", *args], cwd=workdir, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        proc.wait(timeout=600)
        ended = _wait_for_group(proc.pid, 300)  # the rank that survives stops too, and does not hang
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    text = (workdir / "out.txt").read_text()
    assert ended, text[-3000:]
    assert proc.returncode != 0
    other = 1 - dead
    named = re.search(
        rf"rank {dead} \(pid (\d+) on {re.escape(socket.gethostname())}\) died; rank {other} stops too", text
    )
    assert named, text[-3000:]
    if dead == 0:
        assert int(named[1]) == proc.pid


# -- ranks started separately: one run name without --run.name ---------------------------------------------
@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({}, None),  # one process
        ({"MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "1"}, None),  # one process, by hand
        ({"SLURM_NTASKS": "4", "SLURM_JOB_ID": "81234", "SLURM_STEP_ID": "0"}, "TabularMLP-wine-slurm81234"),
        (
            {"SLURM_NTASKS": "4", "SLURM_JOB_ID": "81234", "SLURM_STEP_ID": "2"},
            "TabularMLP-wine-slurm81234.2",
        ),
        (
            {"SLURM_NTASKS": "4", "SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "interactive"},
            None,
        ),  # Lightning ignores SLURM
        (
            {"MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "exp/7"},
            "TabularMLP-wine-exp-7",
        ),
    ],
)
def test_separately_started_ranks_derive_one_run_name_from_the_job(environ, name):
    from lightkit.training.ranks import shared_run_name

    assert shared_run_name("TabularMLP", "wine", environ) == name


def test_separately_started_ranks_without_a_job_id_need_a_run_name():
    from lightkit.errors import UsageError
    from lightkit.training.ranks import shared_run_name

    environ = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "WORLD_SIZE": "2", "NODE_RANK": "1"}
    with pytest.raises(UsageError, match="the 2 processes of this run were started separately") as err:
        shared_run_name("TabularMLP", "wine", environ)
    assert "--run.name" in err.value.hint
    torchrun_static = {**environ, "TORCHELASTIC_RUN_ID": "none"}  # torchrun without --rdzv_id
    with pytest.raises(UsageError):
        shared_run_name("TabularMLP", "wine", torchrun_static)


@pytest.mark.parametrize(
    ("environ", "rank"),
    [
        ({}, 0),
        ({"RANK": "3", "LOCAL_RANK": "1", "NODE_RANK": "1"}, 3),  # torchrun
        ({"SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_JOB_ID": "9"}, 2),  # srun
        ({"MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "4", "NODE_RANK": "1", "LOCAL_RANK": "1"}, 3),  # by hand
        (
            {"MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "2", "NODE_RANK": "1"},
            2,
        ),  # node 1, its launcher's rank 0
    ],
)
def test_the_global_rank_is_read_from_the_launcher_variables(environ, rank):
    from lightkit.training.ranks import global_rank

    assert global_rank(devices=2, environ=environ) == rank
