"""lightkit.data.splits.holdout is scikit-learn's train_test_split, row for row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from lightkit.data.splits import holdout


def _both(rows, fraction, seed, labels):
    try:
        theirs = train_test_split(rows, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError:
        with pytest.raises(ValueError):
            holdout(rows, fraction, seed, labels)
        return None
    ours = holdout(rows, fraction, seed, labels)
    assert len(ours) == 2
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)  # the same rows, in the same order
    return ours


def _labels(kind: str, n: int, rng: np.random.Generator):
    if kind == "balanced":
        return rng.integers(0, 2, n)
    if kind == "imbalanced":
        return (rng.random(n) < 0.08).astype(np.int64)
    if kind == "multiclass":
        return rng.choice([3, 1, 4, 1, 5, 9, 2, 6], n)  # ties in the class counts
    if kind == "strings":
        return rng.choice(np.array(["yes", "no", "maybe"], dtype=object), n)
    if kind == "floats":
        return rng.choice([0.0, 1.0, 2.0], n)
    return None


@pytest.mark.parametrize("kind", ["none", "balanced", "imbalanced", "multiclass", "strings", "floats"])
def test_holdout_is_train_test_split_over_many_tables(kind):
    rng = np.random.default_rng(0)
    compared = 0
    for n in [*range(1, 40), 97, 256, 1000, 4099]:
        labels = _labels(kind, n, rng)
        rows = rng.permutation(n) + 5  # what is split need not be 0..n-1 in order (the rest of a cut)
        for fraction in (0.1, 0.2, 0.25, 1 / 3, 0.5, 0.9):
            for seed in (0, 42, 2**32 - 1):
                compared += _both(rows, fraction, seed, labels) is not None
    assert compared > 100  # most cases split rather than raise


def test_the_two_cuts_of_a_table_are_those_of_scikit_learn():
    rng = np.random.default_rng(1)
    labels = rng.choice([0, 1, 2], 5000, p=[0.7, 0.2, 0.1])
    rows = np.arange(len(labels))
    rest, test = _both(rows, 0.2, 7, labels)
    _both(rest, 0.25, 7, labels[rest])  # the validation cut of the rest, as TabularDataModule makes it


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 0, 0, 1, 1, 1, 2]),  # a class of one row
        np.array([0.0, 1.0, np.nan, 1.0, 0.0, 1.0]),  # a missing label
        np.array(["a", "b", np.nan, "a", "b", "a"], dtype=object),
        np.array(["a", "b", None, "a", "b", "a"], dtype=object),  # None and str do not sort: TypeError
    ],
)
def test_refused_where_scikit_learn_refuses_with_the_same_exception(labels):
    with pytest.raises((ValueError, TypeError)) as theirs:
        train_test_split(np.arange(len(labels)), test_size=0.3, random_state=0, stratify=labels)
    with pytest.raises(theirs.type):
        holdout(np.arange(len(labels)), 0.3, 0, labels)
