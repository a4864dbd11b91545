"""The user x item interaction matrix and its explicit id mapping.

Row i is the user `user_ids[i]`, column j the item `item_ids[j]`. Both id arrays are sorted
ascending, so index order is id order: the protocol's "ties broken by ascending item id" is then
"ties broken by ascending column index".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class InteractionMatrix:
    """Implicit feedback: one stored value per (user, item) pair, its weight (e.g. play count)."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not match "
                f"{len(self.user_ids)} user ids x {len(self.item_ids)} item ids"
            )
        for name, ids in (("user_ids", self.user_ids), ("item_ids", self.item_ids)):
            if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
                raise ValueError(f"{name} must be strictly ascending")

    @classmethod
    def from_arrays(
        cls,
        users: Any,
        items: Any,
        weights: Any | None = None,
        *,
        user_ids: np.ndarray | None = None,
        item_ids: np.ndarray | None = None,
    ) -> InteractionMatrix:
        """Build from parallel id arrays; repeated (user, item) pairs add their weights.

        `user_ids`/`item_ids` fix the id universe (e.g. every catalogue artist, also unplayed
        ones); by default it is the ids seen in the data.
        """
        users = _id_array(users)
        items = _id_array(items)
        if users.shape != items.shape:
            raise ValueError("users and items must have the same length")
        values = (
            np.ones(len(users), dtype=np.float32)
            if weights is None
            else np.asarray(weights, dtype=np.float32)
        )
        user_ids = np.unique(users if user_ids is None else _id_array(user_ids))
        item_ids = np.unique(items if item_ids is None else _id_array(item_ids))
        rows = _positions(user_ids, users, "user")
        cols = _positions(item_ids, items, "item")
        matrix = sp.csr_matrix(
            (values, (rows, cols)), shape=(len(user_ids), len(item_ids)), dtype=np.float32
        )
        matrix.sum_duplicates()
        matrix.sort_indices()
        return cls(matrix, user_ids, item_ids)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        user_col: str = "user_id",
        item_col: str = "item_id",
        weight_col: str | None = None,
    ) -> InteractionMatrix:
        """Build from a polars/pandas DataFrame or a pyarrow Table."""
        weights = None if weight_col is None else np.asarray(frame[weight_col])
        return cls.from_arrays(np.asarray(frame[user_col]), np.asarray(frame[item_col]), weights)

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        return self.matrix.nnz

    def user_index(self, ids: Any) -> np.ndarray:
        """Row indices of the given user ids (KeyError for unknown ids)."""
        return _positions(self.user_ids, np.atleast_1d(_id_array(ids)), "user")

    def item_index(self, ids: Any) -> np.ndarray:
        """Column indices of the given item ids (KeyError for unknown ids)."""
        return _positions(self.item_ids, np.atleast_1d(_id_array(ids)), "item")

    def binary(self) -> sp.csr_matrix:
        """The matrix with every stored weight replaced by 1."""
        ones = self.matrix.copy()
        ones.data = np.ones_like(ones.data)
        return ones

    def with_matrix(self, matrix: sp.spmatrix) -> InteractionMatrix:
        """Another matrix over the same id mapping."""
        csr = sp.csr_matrix(matrix, dtype=np.float32)
        csr.eliminate_zeros()
        csr.sort_indices()
        return InteractionMatrix(csr, self.user_ids, self.item_ids)


def _id_array(ids: Any) -> np.ndarray:
    # Object arrays (e.g. Python strings) cannot be saved without pickle: make them unicode.
    array = np.asarray(ids)
    return array.astype(str) if array.dtype == object else array


def _positions(universe: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    positions = np.searchsorted(universe, ids)
    clipped = np.minimum(positions, len(universe) - 1)
    known = (positions < len(universe)) & (universe[clipped] == ids)
    if not np.all(known):
        raise KeyError(f"unknown {what} ids: {ids[~known][:5].tolist()}")
    return positions.astype(np.int64)
