"""Distributed data parallel on CPU: two gloo processes, one run directory, metrics over all ranks."""

from __future__ import annotations

import csv
import math
import os
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
