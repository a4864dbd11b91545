"""The project's HetRec recommender: the blend `bench/recommender.py` chose on validation.

Chosen by `tuning.tune_blend` on the validation split (seed 43 inside the seed-42 train), never
on test. Re-run the benchmark and copy its `tuning.blend` figures here to change them.
"""

from __future__ import annotations

from music_platform.lib.recommender.models import (
    ALSParams,
    Blend,
    ContentParams,
    EASEParams,
    RP3betaParams,
    SocialParams,
)
from research.components import SideData, build_component

PROJECT_PARAMS = {
    "rp3beta": RP3betaParams(alpha=0.8, beta=0.1, weighting="bm25"),
    "als": ALSParams(factors=32, regularization=0.1, alpha=0.02, iterations=15),
    "ease": EASEParams(l2=100.0, min_item_users=3, weighting="binary"),
    "content": ContentParams(weighting="log", min_feature_items=50),
    "social": SocialParams(weighting="log"),
}
PROJECT_WEIGHTS = {"rp3beta": 0.5, "als": 1.0, "ease": 0.25, "content": 1.0, "social": 0.25}


def project_blend(side: SideData) -> Blend:
    """An unfitted blend; `side` holds the item tags (for `content`) and the friendships (for
    `social`), aligned to the interactions it will be fitted on. Kinds whose side data is
    missing drop out of the blend."""
    weights = {kind: w for kind, w in PROJECT_WEIGHTS.items() if side.supports(kind)}
    return Blend(
        {kind: build_component(kind, PROJECT_PARAMS[kind], side) for kind in weights},
        weights,
    )
