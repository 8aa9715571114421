"""The network of ``TabularMLP``'s defaults, written out for the references, plus plain metrics."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["binary_metrics", "build_net"]


def build_net(features: int, hidden: tuple[int, ...] = (128, 64), dropout: float = 0.1) -> nn.Sequential:
    """Linear, BatchNorm, ReLU, Dropout per hidden layer, then one logit: ``TabularMLP``'s layout."""
    layers: list[nn.Module] = []
    width = features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def binary_metrics(prob: Tensor, y: Tensor) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC of positive-class probabilities, vectorised (no per-batch work)."""
    y = y.reshape(-1).bool()
    pred = prob.reshape(-1) >= 0.5
    tp = (pred & y).sum().item()
    fp = (pred & ~y).sum().item()
    fn = (~pred & y).sum().item()
    ranks = torch.empty(len(prob), dtype=torch.float64)
    ranks[prob.reshape(-1).argsort()] = torch.arange(1, len(prob) + 1, dtype=torch.float64)
    pos = int(y.sum())
    neg = len(y) - pos
    auroc = (ranks[y].sum().item() - pos * (pos + 1) / 2) / max(pos * neg, 1)
    return {
        "acc": (pred == y).float().mean().item(),
        "f1": tp / max(tp + 0.5 * (fp + fn), 1e-12),
        "auroc": auroc,
    }
