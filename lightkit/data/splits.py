"""Holding rows out: one train/held-out cut of a table, stratified by class where asked.

:func:`holdout` is scikit-learn's ``train_test_split`` (``StratifiedShuffleSplit`` or
``ShuffleSplit`` with one split), restated here call for call on numpy's ``RandomState``. Written
by hand for two reasons: a run's held-out rows must not move when scikit-learn is upgraded
(``lightkit test`` and ``predict`` of an old run take its test split again, and resuming takes its
train split), and importing ``sklearn.model_selection`` cost every ``lightkit fit`` about 0.3 s and
16 MB of memory for this one function. ``tests/test_splits.py`` checks it against scikit-learn's own,
row for row, over thousands of tables, fractions, seeds and class mixes.
"""

from __future__ import annotations

from math import ceil

import numpy as np

__all__ = ["holdout"]


def holdout(
    rows: np.ndarray, fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``train_test_split(rows, test_size=fraction, random_state=seed, stratify=labels)``.

    Args:
        rows: What is split (row indices); the two parts are taken from it in scikit-learn's order.
        fraction: The share held out, in (0, 1); the held-out part has ``ceil(fraction * n)`` rows.
        seed: The seed of the shuffle (a fresh ``RandomState`` per call).
        labels: One class label per row to keep the class mix in both parts, or ``None``.

    Returns:
        The kept rows and the held-out rows.

    Raises:
        ValueError: Where scikit-learn raises it: a part would be empty, a class has one row,
            there are more classes than rows in a part, or a label is missing (NaN).
    """
    n = len(rows)
    if n == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    if not 0 < fraction < 1:
        raise ValueError(f"test_size={fraction} should be a float in the (0, 1) range")
    n_test = ceil(fraction * n)
    n_train = n - n_test
    if n_train == 0 or n_test >= n:
        raise ValueError(f"With n_samples={n} and test_size={fraction}, the resulting train set will be empty.")
    rng = np.random.RandomState(seed)
    if labels is None:
        permutation = rng.permutation(n)
        return rows[permutation[n_test : n_test + n_train]], rows[permutation[:n_test]]
    train, test = _stratified(np.asarray(labels), n_train, n_test, rng)
    return rows[train], rows[test]


def _stratified(
    labels: np.ndarray, n_train: int, n_test: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """``StratifiedShuffleSplit._iter_indices``, first split (scikit-learn 1.9)."""
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ValueError("Input y contains NaN or infinity.")
    if labels.dtype == object and (labels != labels).any():  # what check_array refuses: NaN
        raise ValueError("Input y contains NaN.")
    classes, y_indices, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_classes = classes.shape[0]
    if np.min(class_counts) < 2:
        raise ValueError("The least populated classes in y have only 1 member, which is too few.")
    if n_train < n_classes or n_test < n_classes:
        raise ValueError(f"Each part needs a row of each of the {n_classes} classes.")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[np.integer] = []
    test: list[np.integer] = []
    for i in range(n_classes):
        permutation = rng.permutation(class_counts[i])
        in_class = class_indices[i].take(permutation, mode="clip")
        train.extend(in_class[: n_i[i]])
        test.extend(in_class[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Rows per class in a part of ``n_draws`` rows (``sklearn.utils.extmath._approximate_mode``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
