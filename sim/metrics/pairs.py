"""(key, version) pairs as arrays: the changes still on their way to a copy at the end of a run.

A pattern can leave hundreds of thousands of changes in a topic when its drain stops at its
cap; a set of tuples of them costs about 100 bytes a pair, an ``(n, 2)`` array of int64 16.
:func:`as_pairs` makes the sorted, distinct array of pairs from either form,
:func:`pairs_in` says which of a run's commits are among them, vectorised, and
:func:`pair_positions` where each is (the applies' lookup of their commit).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["Pairs", "PairsLike", "as_pairs", "pair_positions", "pairs_in", "pairs_of"]

Pairs = np.ndarray
"""An ``(n, 2)`` int64 array of distinct (key, version) rows, sorted by key, then version."""
PairsLike = Pairs | Iterable[tuple[int, int]]
"""Pairs, or a set of (key, version) tuples."""


def as_pairs(pairs: PairsLike) -> Pairs:
    """The sorted distinct pairs of a set (or any iterable) of (key, version) tuples, or of an
    ``(n, 2)`` array of them."""
    if not isinstance(pairs, np.ndarray):
        listed = list(pairs)
        pairs = np.array(listed, dtype=np.int64) if listed else np.zeros((0, 2), np.int64)
    pairs = pairs.astype(np.int64, copy=False).reshape(-1, 2)
    if len(pairs) < 2:
        return pairs
    return np.unique(pairs, axis=0)


def pairs_of(keys: Iterable[int], versions: Iterable[int]) -> Pairs:
    """The sorted distinct pairs of two columns."""
    return as_pairs(
        np.column_stack(
            [np.asarray(keys, dtype=np.int64).ravel(), np.asarray(versions, dtype=np.int64).ravel()]
        )
    )


def pairs_in(keys: np.ndarray, versions: np.ndarray, pairs: Pairs) -> np.ndarray:
    """Which (``keys[i]``, ``versions[i]``) are among ``pairs``."""
    return pair_positions(keys, versions, pairs) >= 0


def pair_positions(keys: np.ndarray, versions: np.ndarray, pairs: Pairs) -> np.ndarray:
    """The row of ``pairs`` (sorted and distinct) holding each (``keys[i]``, ``versions[i]``),
    or -1 where none does."""
    if len(pairs) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    low_k, high_k = int(pairs[:, 0].min()), int(pairs[:, 0].max())
    low_v, high_v = int(pairs[:, 1].min()), int(pairs[:, 1].max())
    span = high_v - low_v + 1
    if (high_k - low_k + 1) * span >= 2**62:  # too wide to fold into one int64
        wanted = pd.MultiIndex.from_arrays([pairs[:, 0], pairs[:, 1]])
        found = wanted.get_indexer(pd.MultiIndex.from_arrays([keys, versions]))
        return np.asarray(found, dtype=np.int64)
    inside = (keys >= low_k) & (keys <= high_k) & (versions >= low_v) & (versions <= high_v)
    # one int64 a pair, in the pairs' own (sorted) order; a pair outside the ranges asks -1
    folded = (pairs[:, 0] - low_k) * span + (pairs[:, 1] - low_v)
    asked = np.where(inside, (keys - low_k) * span + (versions - low_v), -1)
    at = np.minimum(np.searchsorted(folded, asked), len(folded) - 1)
    found = (folded[at] == asked) & inside
    return np.where(found, at, -1)
