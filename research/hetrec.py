"""Readers for the HetRec 2011 Last.fm 2K files (tab-separated, header line).

Only `user_artists.dat` is required: the tag and friendship files feed optional parts of the
blend, so their readers return None, with a logged note, when a file is absent or holds no rows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix

log = logging.getLogger(__name__)


def _read_optional(path: Path, purpose: str, encoding: str = "utf8") -> pl.DataFrame | None:
    """The file's rows, or None (with a note saying what drops out) when it is absent or empty."""
    if not path.is_file():
        log.warning("%s not found: %s drop out of the blend", path, purpose)
        return None
    frame = pl.read_csv(path, separator="\t", encoding=encoding)
    if frame.height == 0:
        log.warning("%s holds no rows: %s drop out of the blend", path, purpose)
        return None
    return frame


def load_interactions(data_dir: Path) -> InteractionMatrix:
    """`user_artists.dat`: one (user, artist) pair per row, weighted by its play count."""
    frame = pl.read_csv(data_dir / "user_artists.dat", separator="\t")
    return InteractionMatrix.from_arrays(
        frame["userID"].to_numpy(), frame["artistID"].to_numpy(), frame["weight"].to_numpy()
    )


def load_item_tags(
    data_dir: Path, item_ids: np.ndarray, held_out: InteractionMatrix | None = None
) -> tuple[sp.csr_matrix, list[str]] | None:
    """Item x tag counts from `user_taggedartists.dat`, columns named from `tags.dat`, or None
    when either file is absent or empty.

    Tag assignments on a `held_out` (user, artist) pair are dropped: a user tagging an artist
    reveals that they listen to it, which would leak the test set into the features.
    """
    tags = _read_optional(data_dir / "tags.dat", "tag features", encoding="iso-8859-1")
    if tags is None:
        return None
    assignments = _read_optional(data_dir / "user_taggedartists.dat", "tag features")
    if assignments is None:
        return None
    if held_out is not None:
        coo = held_out.matrix.tocoo()
        pairs = pl.DataFrame(
            {
                "userID": held_out.user_ids[coo.row].astype(np.int64),
                "artistID": held_out.item_ids[coo.col].astype(np.int64),
            }
        )
        assignments = assignments.join(pairs, on=["userID", "artistID"], how="anti")
    assignments = assignments.filter(pl.col("artistID").is_in(item_ids.tolist()))
    tag_ids = tags["tagID"].to_numpy()
    tag_names = tags["tagValue"].to_list()
    rows = np.searchsorted(item_ids, assignments["artistID"].to_numpy())
    cols = np.searchsorted(tag_ids, assignments["tagID"].to_numpy())
    features = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(item_ids), len(tag_ids)),
    )
    features.sum_duplicates()
    return features, tag_names


def load_friends(data_dir: Path, user_ids: np.ndarray) -> sp.csr_matrix | None:
    """Users x users from `user_friends.dat` (1 per friendship), rows and columns `user_ids`,
    or None when the file is absent or empty.

    The file lists every friendship in both directions; pairs with an unknown user are dropped.
    """
    pairs = _read_optional(data_dir / "user_friends.dat", "social neighbours")
    if pairs is None:
        return None
    known = user_ids.tolist()
    pairs = pairs.filter(pl.col("userID").is_in(known) & pl.col("friendID").is_in(known))
    rows = np.searchsorted(user_ids, pairs["userID"].to_numpy())
    cols = np.searchsorted(user_ids, pairs["friendID"].to_numpy())
    friends = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(user_ids), len(user_ids)),
    )
    friends.sum_duplicates()
    friends.data = np.ones_like(friends.data)
    return friends
