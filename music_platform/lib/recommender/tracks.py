"""The platform's recommender: items are tracks, described by the catalogue (`dim_track`).

The platform has no tags and no friends, so its blend is collaborative (RP3beta, ALS) plus
content over catalogue features: genre, artist and binned audio descriptors. Weights and
settings were chosen on the validation split (never the test split) of 30 days of synthetic
listening (`lib/synthetic.py`, default sizes).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from music_platform.lib.recommender.models import (
    ALS,
    ALSParams,
    Blend,
    Content,
    ContentParams,
    Recommender,
    RP3beta,
    RP3betaParams,
)

CATEGORICAL_FEATURES = ("genre", "artist_id")
# Bin edges per numeric column: audio descriptors in [0, 1], tempo in BPM, popularity 0-100.
BINNED_FEATURES: dict[str, tuple[float, ...]] = {
    "danceability": (0.2, 0.4, 0.6, 0.8),
    "energy": (0.2, 0.4, 0.6, 0.8),
    "valence": (0.2, 0.4, 0.6, 0.8),
    "acousticness": (0.2, 0.4, 0.6, 0.8),
    "tempo": (90.0, 110.0, 130.0, 150.0),
    "popularity": (20.0, 40.0, 60.0, 80.0),
}

# Chosen on the validation splits of two synthetic worlds (seeds 42 and 7); ALS weighs less
# once content is there, as both carry the taste for an artist's other tracks.
PLATFORM_PARAMS = {
    "rp3beta": RP3betaParams(alpha=0.6, beta=0.2, weighting="bm25"),
    "als": ALSParams(factors=32, regularization=0.1, alpha=0.05),
    "content": ContentParams(weighting="log", min_feature_items=1),
}
WEIGHTS_WITH_FEATURES = {"rp3beta": 1.0, "als": 0.25, "content": 1.0}
WEIGHTS_WITHOUT_FEATURES = {"rp3beta": 1.0, "als": 0.5}


def track_features(catalogue: pl.DataFrame, item_ids: np.ndarray) -> sp.csr_matrix:
    """Tracks x features (0/1): genre and artist one-hot, each numeric column in bins.

    Row i describes `item_ids[i]`; ids missing from the catalogue get an empty row, and so do
    missing values. Catalogue columns that are absent are skipped.
    """
    ids = np.asarray(item_ids).astype(str)
    tracks = catalogue.with_columns(pl.col("track_id").cast(pl.String)).unique(
        "track_id", keep="first", maintain_order=True
    )
    position = {track: row for row, track in enumerate(ids)}
    item_rows = np.array([position.get(t, -1) for t in tracks["track_id"].to_list()], np.int64)
    known = item_rows >= 0
    blocks = []
    for column in CATEGORICAL_FEATURES:
        if column in tracks.columns:
            values = tracks[column].cast(pl.String).to_numpy()
            blocks.append(_one_hot(item_rows, known, values, len(ids)))
    for column, edges in BINNED_FEATURES.items():
        if column in tracks.columns:
            numbers = tracks[column].cast(pl.Float64).to_numpy()
            bins = np.where(np.isnan(numbers), None, np.digitize(numbers, edges))
            blocks.append(_one_hot(item_rows, known, bins, len(ids), n_values=len(edges) + 1))
    if not blocks:
        return sp.csr_matrix((len(ids), 0), dtype=np.float32)
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def platform_model(item_features: sp.spmatrix | None = None) -> Recommender:
    """An unfitted blend for the platform's listening; `fit(train)` needs nothing else.

    `item_features` (e.g. `track_features(catalogue, train.item_ids)`) adds the content
    component; without them the blend is collaborative only.
    """
    components: dict[str, Recommender] = {
        "rp3beta": RP3beta(PLATFORM_PARAMS["rp3beta"]),
        "als": ALS(PLATFORM_PARAMS["als"]),
    }
    if item_features is None:
        return Blend(components, WEIGHTS_WITHOUT_FEATURES)
    components["content"] = Content(PLATFORM_PARAMS["content"], item_features)
    return Blend(components, WEIGHTS_WITH_FEATURES)


def _one_hot(
    rows: np.ndarray,
    known: np.ndarray,
    values: np.ndarray,
    n_rows: int,
    n_values: int | None = None,
) -> sp.csr_matrix:
    """One column per distinct value (sorted), or per bin 0..n_values-1 when given."""
    present = known & np.array([value is not None for value in values], dtype=bool)
    if n_values is None:
        names, columns = np.unique(values[present].astype(str), return_inverse=True)
        n_values = len(names)
    else:
        columns = values[present].astype(np.int64)
    return sp.csr_matrix(
        (np.ones(int(present.sum()), dtype=np.float32), (rows[present], columns)),
        shape=(n_rows, n_values),
    )
