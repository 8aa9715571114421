"""The default: the same network as plain Lightning, fed by ``TensorDataset`` + ``DataLoader(shuffle=True)``.

This is what the Lightning documentation leads a user to write for a table in memory: a
``LightningModule`` that logs its loss and torchmetrics metrics, and a ``DataLoader`` over a
``TensorDataset``. Usage mirrors ``hand_loop.py``:
``python benchmarks/plain_lightning.py fit CSV MODEL_FILE`` then ``... predict CSV MODEL_FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference_net import build_net  # noqa: E402
from benchmarks.stopwatch import Stopwatch  # noqa: E402
from benchmarks.table import read_table, split_rows  # noqa: E402


def _metrics(prefix: str) -> torchmetrics.MetricCollection:
    return torchmetrics.MetricCollection(
        {
            "acc": torchmetrics.Accuracy(task="binary"),
            "f1": torchmetrics.F1Score(task="binary"),
            "auroc": torchmetrics.AUROC(task="binary"),
        },
        prefix=prefix,
    )


class PlainMLP(pl.LightningModule):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_net(features)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.train_metrics = _metrics("train_")
        self.val_metrics = _metrics("val_")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss_fn(logits, y)
        self.train_metrics.update(logits.sigmoid().reshape(-1), y.reshape(-1).int())
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_metrics.update(logits.sigmoid().reshape(-1), y.reshape(-1).int())
        self.log("val_loss", self.loss_fn(logits, y), prog_bar=True)
        self.log_dict(self.val_metrics, prog_bar=True)

    def predict_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch[0]).sigmoid()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=3e-3, weight_decay=1e-4)


def _trainer(args: argparse.Namespace, stopwatch: Stopwatch, **kwargs: object) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=args.epochs,
        callbacks=[stopwatch],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(args.model.parent / "plain_lightning_logs"),
        **kwargs,
    )


def fit(args: argparse.Namespace) -> None:
    pl.seed_everything(args.seed, verbose=False)
    x, y = read_table(args.csv)
    train_rows, val_rows = split_rows(len(x), args.val_fraction, args.seed)
    mean, std = x[train_rows].mean(axis=0), x[train_rows].std(axis=0) + 1e-8
    xt = torch.from_numpy((x - mean) / std)
    yt = torch.from_numpy(y).reshape(-1, 1)
    train = TensorDataset(xt[train_rows], yt[train_rows])
    val = TensorDataset(xt[val_rows], yt[val_rows])
    model = PlainMLP(xt.shape[1])
    trainer = _trainer(args, Stopwatch())
    trainer.fit(
        model,
        DataLoader(train, batch_size=args.batch_size, shuffle=True),
        DataLoader(val, batch_size=4 * args.batch_size),
    )
    torch.save({"state_dict": model.state_dict(), "mean": mean, "std": std}, args.model)


def predict(args: argparse.Namespace) -> None:
    import pandas as pd

    saved = torch.load(args.model, weights_only=False)
    x, _ = read_table(args.csv)
    xt = torch.from_numpy((x - saved["mean"]) / saved["std"])
    model = PlainMLP(xt.shape[1])
    model.load_state_dict(saved["state_dict"])
    stopwatch = Stopwatch(report_at_teardown=False)
    trainer = _trainer(args, stopwatch, logger=False)
    batches = trainer.predict(model, DataLoader(TensorDataset(xt), batch_size=4 * args.batch_size))
    positive = torch.cat(batches).reshape(-1).double().numpy()
    frame = pd.DataFrame({"row": range(len(positive)), "prediction": (positive >= 0.5).astype(int)})
    frame["prob_0"] = 1.0 - positive
    frame["prob_1"] = positive
    frame.to_csv(args.output, index=False)
    stopwatch.finish_predict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["fit", "predict"])
    parser.add_argument("csv", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=Path("predictions.csv"))
    args = parser.parse_args()
    fit(args) if args.mode == "fit" else predict(args)


if __name__ == "__main__":
    main()
