"""Where the time of a training step goes: the same step with Lightning's pieces added one by one.

    python benchmarks/step_overhead.py --steps 625 --batch-size 256 --repeats 3

Every variant trains the network of ``TabularMLP``'s defaults for ``--steps`` steps on the same
in-memory batches (no validation) and reports milliseconds per step, wall and CPU; variants alternate, and the
medians are reported like every other benchmark (see :mod:`benchmarks.timing`):

==========================  ===================================================================
``hand``                    the hand-written loop over ``TensorBatchLoader`` batches: the floor
``lightning``               a ``LightningModule`` returning its loss, nothing logged
``lightning_dataloader``    the same, fed by ``DataLoader(TensorDataset, shuffle=True)``
``log_loss``                ``lightning`` + ``self.log("train_loss", on_step, on_epoch)``
``metrics_epoch``           ``log_loss`` + accuracy, F1 and AUROC updated every step, logged at epoch end
``metrics_step``            ``log_loss`` + the same metrics logged with ``self.log_dict(metrics)`` every
                            step instead, the pattern of Lightning's documentation
``lean``                    ``lightning`` + the loss summed in a tensor and logged only at the logging
                            interval, metrics updated without argument checks and logged per epoch
                            (what ``benchmarks/lean_step_mlp.py`` does)
==========================  ===================================================================
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference_net import build_net  # noqa: E402
from benchmarks.timing import report  # noqa: E402
from lightkit import TensorBatchLoader  # noqa: E402
from lightkit.quiet import quiet_lightning  # noqa: E402

VARIANTS = ("hand", "lightning", "lightning_dataloader", "log_loss", "metrics_epoch", "metrics_step", "lean")


def _metrics() -> torchmetrics.MetricCollection:
    return torchmetrics.MetricCollection(
        {
            "acc": torchmetrics.Accuracy(task="binary"),
            "f1": torchmetrics.F1Score(task="binary"),
            "auroc": torchmetrics.AUROC(task="binary"),
        },
        prefix="train_",
    )


class Module(pl.LightningModule):
    def __init__(
        self, features: int, log_loss: bool | str, metrics: str | None, validate_args: bool = True
    ) -> None:
        super().__init__()
        self.net = build_net(features)
        self.log_loss = log_loss
        self.metrics_mode = metrics
        self.train_metrics = _metrics()
        for metric in self.train_metrics.values():
            metric.validate_args = validate_args
        self.loss_sum = torch.zeros(())

    def training_step(
        self, batch: dict[str, torch.Tensor] | list[torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = (batch["x"], batch["y"]) if isinstance(batch, dict) else batch
        logits = self.net(x)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
        if self.log_loss == "interval":
            self.loss_sum += loss.detach()
            if self.global_step % self.trainer.log_every_n_steps == 0:
                self.log("train_loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        elif self.log_loss:
            self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(y))
        if self.metrics_mode is not None:
            self.train_metrics.update(logits.detach().sigmoid().reshape(-1), y.reshape(-1).int())
        if self.metrics_mode == "step":
            self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        if self.metrics_mode == "epoch":
            self.log_dict(self.train_metrics.compute())
            self.train_metrics.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=3e-3, weight_decay=1e-4)


def _data(rows: int, features: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, features, generator=generator)
    return x, (x[:, :1] > 0).float()


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def run_hand(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    net = build_net(x.shape[1])
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    loader = TensorBatchLoader({"x": x, "y": y}, batch_size=batch_size, shuffle=True)
    start = _clock()
    total = torch.zeros(())
    for batch in loader:
        loss = nn.functional.binary_cross_entropy_with_logits(net(batch["x"]), batch["y"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return _since(start)


def run_lightning(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, variant: str, root: Path
) -> tuple[float, float]:
    module = Module(
        x.shape[1],
        log_loss="interval"
        if variant == "lean"
        else variant in ("log_loss", "metrics_epoch", "metrics_step"),
        metrics={"metrics_epoch": "epoch", "metrics_step": "step", "lean": "epoch"}.get(variant),
        validate_args=variant != "lean",
    )
    if variant == "lightning_dataloader":
        loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    else:
        loader = TensorBatchLoader({"x": x, "y": y}, batch_size=batch_size, shuffle=True)
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=str(root),
    )
    start = _clock()
    trainer.fit(module, train_dataloaders=loader)
    return _since(start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=625)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, default=Path("step_overhead"))
    args = parser.parse_args()
    quiet_lightning()
    x, y = _data(args.steps * args.batch_size)
    run_hand(x[: 4 * args.batch_size], y[: 4 * args.batch_size], args.batch_size)  # warm up kernels
    seconds: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            if variant == "hand":
                seconds[variant].append(run_hand(x, y, args.batch_size))
            else:
                seconds[variant].append(run_lightning(x, y, args.batch_size, variant, args.root))
    per_step: dict[str, float] = {}
    for variant, samples in seconds.items():
        per_step[f"{variant}_ms"] = 1000 * statistics.median(wall for wall, _ in samples) / args.steps
        per_step[f"{variant}_cpu_ms"] = 1000 * statistics.median(cpu for _, cpu in samples) / args.steps
        wall, cpu = per_step[f"{variant}_ms"], per_step[f"{variant}_cpu_ms"]
        print(f"{variant:<22} {wall:7.3f} ms/step (cpu {cpu:7.3f} ms)")
    report(per_step)


if __name__ == "__main__":
    main()
