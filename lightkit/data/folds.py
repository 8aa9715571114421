"""Fold maths for cross-validation: which rows train and which validate in fold *i* of *k*.

The fold protocol (a data module's ``set_fold(index, count, seed)``) and the command that uses it
are described in :mod:`lightkit.cli.cv`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["fold_split"]


def fold_split(
    rows: np.ndarray, labels: np.ndarray | None, index: int, count: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation rows of fold ``index`` of ``count``.

    Folds are stratified by ``labels`` when they are given and every class has at least
    ``count`` rows; otherwise rows are assigned at random. Both are shuffled with ``seed``.

    Args:
        rows: Row indices to cut into folds.
        labels: Class label of each of ``rows``, or ``None`` (regression, multilabel).
        index: Which fold validates (0-based).
        count: Number of folds.
        seed: Shuffling seed.
    """
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    if not 0 <= index < count:
        raise ConfigError(f"fold index {index} is outside 0..{count - 1}")
    if count > len(rows):
        raise ConfigError(
            f"--cv.folds {count} is more than the {len(rows)} rows left for training and validation",
            "use fewer folds, or a smaller data.test_fraction.",
        )
    if labels is not None and np.unique(labels, return_counts=True)[1].min() >= count:
        parts = list(StratifiedKFold(count, shuffle=True, random_state=seed).split(rows, labels))
    else:
        parts = list(KFold(count, shuffle=True, random_state=seed).split(rows))
    train, val = parts[index]
    return np.sort(rows[train]), np.sort(rows[val])
