"""The project's recommender: the blend `bench/recommender.py` chose on the HetRec validation split.

Chosen by `tuning.tune_blend` on the validation split (seed 43 inside the seed-42 train), never
on test. Re-run the benchmark and copy its `tuning.blend` figures here to change them.
"""

from __future__ import annotations

from music_platform.lib.recommender.models import (
    EASE,
    Blend,
    Content,
    ContentParams,
    EASEParams,
    Popularity,
    PureSVD,
    PureSVDParams,
    RP3beta,
    RP3betaParams,
)

PROJECT_WEIGHTS = {
    "rp3beta": 1.0,
    "pure_svd": 1.0,
    "ease": 0.25,
    "content": 2.0,
    "popularity": 0.25,
}


def project_blend() -> Blend:
    """An unfitted blend; `fit(train, item_features)` needs item tags/genres for `content`."""
    return Blend(
        {
            "rp3beta": RP3beta(RP3betaParams(alpha=0.8, beta=0.1, weighting="bm25")),
            "pure_svd": PureSVD(PureSVDParams(factors=32, weighting="bm25")),
            "ease": EASE(EASEParams(l2=100.0, min_item_users=3, weighting="binary")),
            "content": Content(ContentParams(weighting="log", min_feature_items=50)),
            "popularity": Popularity(),
        },
        PROJECT_WEIGHTS,
    )
