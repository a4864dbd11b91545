"""Blend components by kind, each built with the side data it needs beyond the interactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import scipy.sparse as sp

from music_platform.lib.recommender.models import Content, Recommender, Social
from music_platform.lib.recommender.models.base import model_type


@dataclass(frozen=True)
class SideData:
    """Aligned to the training interactions: rows of `item_features` are its items (columns),
    `friends` is users x users over its rows. Either may be missing."""

    item_features: sp.csr_matrix | None = None
    friends: sp.csr_matrix | None = None

    def supports(self, kind: str) -> bool:
        """Whether a component of this kind can be built from what is here."""
        if kind == Content.kind:
            return self.item_features is not None
        if kind == Social.kind:
            return self.friends is not None
        return True


def build_component(kind: str, params: Any, side: SideData) -> Recommender:
    """An unfitted model of `kind` with `params`, holding the side data it uses."""
    if kind == Content.kind:
        return Content(params, side.item_features)
    if kind == Social.kind:
        return Social(params, side.friends)
    return model_type(kind)(params)
