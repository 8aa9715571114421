"""The floor: a hand-written PyTorch loop doing the train and validation work of ``lightkit fit``.

Usage: ``python benchmarks/hand_loop.py fit CSV MODEL_FILE --epochs E --batch-size B``, then
``python benchmarks/hand_loop.py predict CSV MODEL_FILE --output preds.csv``. It reads the CSV with
pandas, standardises with train statistics, draws one permutation per epoch and slices batches,
and computes loss, accuracy, F1 and ROC AUC on train and validation at the end of every epoch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference_net import binary_metrics, build_net  # noqa: E402
from benchmarks.table import read_table, split_rows  # noqa: E402
from benchmarks.timing import peak_rss_mb, report  # noqa: E402


def fit(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    x, y = read_table(args.csv)
    train_rows, val_rows = split_rows(len(x), args.val_fraction, args.seed)
    mean, std = x[train_rows].mean(axis=0), x[train_rows].std(axis=0) + 1e-8
    xt = torch.from_numpy((x - mean) / std)
    yt = torch.from_numpy(y).reshape(-1, 1)
    x_train, y_train = xt[train_rows], yt[train_rows]
    x_val, y_val = xt[val_rows], yt[val_rows]
    del x, y, xt, yt
    net = build_net(x_train.shape[1])
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    before_fit = peak_rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(args.seed + epoch))
        probs = torch.empty(len(x_train), 1)
        seen = torch.empty(len(x_train), 1)
        loss_sum = torch.zeros(())
        steps = 0
        for first in range(0, len(x_train), args.batch_size):
            idx = order[first : first + args.batch_size]
            xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
            logits = net(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            steps += 1
            probs[first : first + len(idx)] = logits.detach().sigmoid()
            seen[first : first + len(idx)] = yb
        train = binary_metrics(probs, seen)
        net.eval()
        val_probs, val_loss = [], torch.zeros(())
        with torch.no_grad():
            for first in range(0, len(x_val), 4 * args.batch_size):
                xb, yb = (
                    x_val[first : first + 4 * args.batch_size],
                    y_val[first : first + 4 * args.batch_size],
                )
                logits = net(xb)
                val_loss += loss_fn(logits, yb) * len(xb)
                val_probs.append(logits.sigmoid())
        val = binary_metrics(torch.cat(val_probs), y_val)
        torch.save({"net": net.state_dict(), "mean": mean, "std": std}, args.model)
        print(
            f"epoch {epoch + 1}/{args.epochs}  train_loss={(loss_sum / steps).item():.4f}  "
            f"train_acc={train['acc']:.4f}  val_loss={(val_loss / len(x_val)).item():.4f}  "
            f"val_acc={val['acc']:.4f}  val_f1={val['f1']:.4f}  val_auroc={val['auroc']:.4f}"
        )
    report(
        {
            "fit_s": time.perf_counter() - start,
            "fit_cpu_s": time.process_time() - start_cpu,
            "peak_rss_before_fit_mb": before_fit,
        }
    )


def predict(args: argparse.Namespace) -> None:
    import pandas as pd

    saved = torch.load(args.model, weights_only=False)
    x, _ = read_table(args.csv)
    xt = torch.from_numpy((x - saved["mean"]) / saved["std"])
    net = build_net(xt.shape[1])
    net.load_state_dict(saved["net"])
    net.eval()
    start, start_cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        prob = torch.cat(
            [net(xt[i : i + 4 * args.batch_size]).sigmoid() for i in range(0, len(xt), 4 * args.batch_size)]
        )
    positive = prob.reshape(-1).double().numpy()
    frame = pd.DataFrame({"row": range(len(positive)), "prediction": (positive >= 0.5).astype(int)})
    frame["prob_0"] = 1.0 - positive
    frame["prob_1"] = positive
    frame.to_csv(args.output, index=False)
    report({"predict_s": time.perf_counter() - start, "predict_cpu_s": time.process_time() - start_cpu})


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
