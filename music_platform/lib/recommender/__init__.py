"""Recommenders for the platform: the evaluation protocol, the models and their tuning.

`protocol` is the one way every model is judged, `gating` whether a candidate is worse than a
baseline beyond noise; `models` share one interface (fit, score, recommend, explain, save/load);
`tuning` picks a blend of them on a validation split, with the side data of `components`;
`project` is the blend chosen on HetRec, `tracks` the platform's.
"""

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.protocol import Metrics, Split, evaluate, split

__all__ = ["InteractionMatrix", "Metrics", "Split", "evaluate", "split"]
