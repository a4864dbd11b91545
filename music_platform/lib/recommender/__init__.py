"""Recommenders for the platform: the evaluation protocol, the models and the service over them.

`protocol` is the one way every model is judged, `gating` whether a candidate is worse than a
baseline beyond noise; `models` share one interface (fit, score, recommend, explain, save/load);
`tracks` is the platform's model, and `service` answers from the promoted one. How the HetRec
blend was tuned and chosen lives in the top-level `research` package.
"""

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.protocol import Metrics, Split, evaluate, split

__all__ = ["InteractionMatrix", "Metrics", "Split", "evaluate", "split"]
