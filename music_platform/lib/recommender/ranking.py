"""Exact top-k selection shared by evaluation and serving."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k best columns by descending score, ties by ascending column index.

    Returns (indices, valid): `valid` is False where a slot holds a -inf (excluded) column,
    i.e. when a row has fewer than k finite scores.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k == 0:
        return np.zeros((n_rows, 0), dtype=np.int64), np.zeros((n_rows, 0), dtype=bool)
    columns = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    chosen = np.take_along_axis(scores, columns, axis=1)
    kth = chosen.min(axis=1, keepdims=True)
    # argpartition cuts a tie at the k-th place arbitrarily: redo the rows where it had to cut,
    # keeping the lowest tied indices.
    cut = np.flatnonzero((scores == kth).sum(axis=1) > (chosen == kth).sum(axis=1))
    if len(cut):
        rows, row_kth = scores[cut], kth[cut]
        tied = rows == row_kth
        room = k - (rows > row_kth).sum(axis=1, keepdims=True)
        keep = (rows > row_kth) | (tied & (np.cumsum(tied, axis=1) <= room))
        columns[cut] = np.nonzero(keep)[1].reshape(len(cut), k)
        chosen[cut] = np.take_along_axis(rows, columns[cut], axis=1)
    order = np.lexsort((columns, -chosen), axis=1)
    columns = np.take_along_axis(columns, order, axis=1)
    valid = np.isfinite(np.take_along_axis(chosen, order, axis=1))
    return columns, valid


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix) -> None:
    """Set the scores of each row's stored items (e.g. training items) to -inf, in place."""
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    scores[rows, seen.indices] = -np.inf
