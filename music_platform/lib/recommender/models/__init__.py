"""Recommenders sharing one interface: fit, score, recommend, explain, save/load."""

from music_platform.lib.recommender.models.als import ALS, ALSParams
from music_platform.lib.recommender.models.base import ARTEFACT_FORMAT, Recommender
from music_platform.lib.recommender.models.blend import Blend, BlendParams
from music_platform.lib.recommender.models.content import Content, ContentParams
from music_platform.lib.recommender.models.ease import EASE, EASEParams
from music_platform.lib.recommender.models.popularity import Popularity, PopularityParams
from music_platform.lib.recommender.models.rp3beta import RP3beta, RP3betaParams
from music_platform.lib.recommender.models.social import Social, SocialParams
from music_platform.lib.recommender.models.svd import PureSVD, PureSVDParams

__all__ = [
    "ALS",
    "ARTEFACT_FORMAT",
    "EASE",
    "ALSParams",
    "Blend",
    "BlendParams",
    "Content",
    "ContentParams",
    "EASEParams",
    "Popularity",
    "PopularityParams",
    "PureSVD",
    "PureSVDParams",
    "RP3beta",
    "RP3betaParams",
    "Recommender",
    "Social",
    "SocialParams",
]
