"""ExactAUROC is torchmetrics' exact AUROC: checked by brute force, against torchmetrics and scikit-learn."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
import torchmetrics
from sklearn.metrics import roc_auc_score

from lightkit.components.auroc import ExactAUROC


def _scores(rows: int, seed: int, levels: int | None = None, columns: int | None = None) -> torch.Tensor:
    """Probabilities; with ``levels``, rounded so that many rows tie."""
    generator = torch.Generator().manual_seed(seed)
    shape = (rows,) if columns is None else (rows, columns)
    scores = torch.rand(shape, generator=generator)
    return (scores * levels).round() / levels if levels else scores


def _labels(rows: int, seed: int, high: int = 2, columns: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed + 1000)
    shape = (rows,) if columns is None else (rows, columns)
    return torch.randint(0, high, shape, generator=generator)


def _brute_force(scores: list[float], positive: list[bool]) -> float:
    """Every (positive, negative) pair: 1 when the positive scores higher, 1/2 on a tie."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    twice = sum(2 if a > b else 1 if a == b else 0 for a, b in itertools.product(pos, neg))
    return twice / (2 * len(pos) * len(neg))


@pytest.mark.parametrize(("rows", "levels", "seed"), [(7, 3, 0), (50, 4, 1), (200, None, 2), (333, 10, 3)])
def test_binary_area_is_the_exact_pair_count(rows: int, levels: int | None, seed: int) -> None:
    scores, labels = _scores(rows, seed, levels), _labels(rows, seed)
    metric = ExactAUROC("binary")
    for part_scores, part_labels in zip(scores.split(17), labels.split(17), strict=True):
        metric.update(part_scores, part_labels)
    exact = _brute_force(scores.tolist(), (labels == 1).tolist())
    assert metric.compute().item() == torch.tensor(exact, dtype=torch.float32).item()


@pytest.mark.parametrize("levels", [None, 5, 1000])
def test_binary_area_matches_torchmetrics_and_scikit_learn(levels: int | None) -> None:
    scores, labels = _scores(20_000, 5, levels), _labels(20_000, 5)
    ours = ExactAUROC("binary")
    ours.update(scores, labels)
    theirs = torchmetrics.AUROC(task="binary")
    theirs.update(scores, labels)
    assert ours.compute().item() == pytest.approx(theirs.compute().item(), abs=1e-6)
    assert ours.compute().item() == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-7)


def test_multiclass_area_is_the_macro_mean_one_class_against_the_rest() -> None:
    rows, classes = 3_000, 4
    scores = _scores(rows, 7, levels=20, columns=classes).softmax(dim=1)
    labels = _labels(rows, 7, high=classes)
    ours = ExactAUROC("multiclass", num_classes=classes)
    ours.update(scores, labels)
    theirs = torchmetrics.AUROC(task="multiclass", num_classes=classes)
    theirs.update(scores, labels)
    per_class = [roc_auc_score((labels == c).numpy(), scores[:, c].numpy()) for c in range(classes)]
    assert ours.compute().item() == pytest.approx(theirs.compute().item(), abs=1e-6)
    assert ours.compute().item() == pytest.approx(sum(per_class) / classes, abs=1e-7)


def test_multilabel_area_is_the_macro_mean_over_labels() -> None:
    rows, labels_count = 2_000, 3
    scores, labels = _scores(rows, 9, levels=50, columns=labels_count), _labels(rows, 9, columns=labels_count)
    ours = ExactAUROC("multilabel", num_labels=labels_count)
    theirs = torchmetrics.AUROC(task="multilabel", num_labels=labels_count)
    for metric in (ours, theirs):
        metric.update(scores[:1000], labels[:1000])
        metric.update(scores[1000:], labels[1000:])
    assert ours.compute().item() == pytest.approx(theirs.compute().item(), abs=1e-6)


def test_a_class_never_seen_counts_zero_with_torchmetrics_warning() -> None:
    scores = _scores(300, 11, columns=3).softmax(dim=1)
    labels = _labels(300, 11, high=2)  # class 2 never occurs
    ours = ExactAUROC("multiclass", num_classes=3)
    ours.update(scores, labels)
    theirs = torchmetrics.AUROC(task="multiclass", num_classes=3)
    theirs.update(scores, labels)
    with pytest.warns(UserWarning, match="No positive samples in targets"):
        area = ours.compute().item()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert area == pytest.approx(theirs.compute().item(), abs=1e-6)


def test_one_class_only_gives_zero_and_names_what_is_missing() -> None:
    metric = ExactAUROC("binary")
    metric.update(torch.tensor([0.2, 0.7, 0.9]), torch.tensor([1, 1, 1]))
    with pytest.warns(UserWarning, match="No negative samples in targets"):
        assert metric.compute().item() == 0.0


def test_gathered_state_gives_the_same_area() -> None:
    """After torchmetrics gathers the ranks, a state is one tensor instead of a list of updates."""
    scores, labels = _scores(500, 13, levels=8), _labels(500, 13)
    metric = ExactAUROC("binary")
    metric.update(scores[:200], labels[:200])
    metric.update(scores[200:], labels[200:])
    from_parts = metric.compute().item()
    gathered = ExactAUROC("binary")
    gathered.preds, gathered.target = torch.cat(metric.preds), torch.cat(metric.target)
    assert gathered.compute().item() == from_parts


def test_reset_forgets_the_epoch() -> None:
    metric = ExactAUROC("binary")
    metric.update(torch.tensor([0.1, 0.9]), torch.tensor([0, 1]))
    assert metric.compute().item() == 1.0
    metric.reset()
    metric.update(torch.tensor([0.9, 0.1]), torch.tensor([0, 1]))
    assert metric.compute().item() == 0.0


def test_bfloat16_scores_are_sorted_exactly() -> None:
    scores, labels = _scores(1_000, 17), _labels(1_000, 17)
    metric = ExactAUROC("binary")
    metric.update(scores.bfloat16(), labels)
    exact = roc_auc_score(labels.numpy(), scores.bfloat16().float().numpy())
    assert metric.compute().item() == pytest.approx(exact, abs=1e-7)


def test_a_task_without_its_class_count_is_refused() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        ExactAUROC("multiclass")
