"""Confidence weighting of implicit feedback: how much one (user, item) play count counts."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

Weighting = Literal["binary", "log", "bm25"]


def confidence(
    matrix: sp.csr_matrix, scheme: Weighting, bm25_k1: float = 100.0, bm25_b: float = 0.5
) -> sp.csr_matrix:
    """Reweight the stored play counts of a users x items matrix.

    - binary: 1 per interaction;
    - log: log(1 + plays), damping heavy listeners' top artists;
    - bm25: saturating plays, normalised by the user's total plays and weighted by the item's
      inverse user frequency (as in Okapi BM25, users as documents, items as terms).
    """
    weighted = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if scheme == "binary":
        weighted.data = np.ones_like(weighted.data)
    elif scheme == "log":
        weighted.data = np.log1p(weighted.data)
    elif scheme == "bm25":
        n_users = weighted.shape[0]
        item_users = np.bincount(weighted.indices, minlength=weighted.shape[1])
        idf = np.log(n_users) - np.log1p(item_users)
        totals = np.asarray(weighted.sum(axis=1)).ravel()
        length = (1.0 - bm25_b) + bm25_b * totals / max(totals.mean(), 1e-12)
        rows = np.repeat(np.arange(n_users), np.diff(weighted.indptr))
        plays = weighted.data
        weighted.data = (
            plays * (bm25_k1 + 1.0) / (bm25_k1 * length[rows] + plays) * idf[weighted.indices]
        ).astype(np.float32)
    else:
        raise ValueError(f"unknown weighting {scheme!r}")
    return weighted


def row_normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Divide every row by its sum (rows summing to 0 stay 0)."""
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ matrix)


def l2_normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale every row to unit Euclidean norm (empty rows stay 0)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ matrix)
