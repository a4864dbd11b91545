"""The interface every recommender shares, and its versioned on-disk artefact.

A model is fitted on an `InteractionMatrix` and scores users by row index as a dense block
(users x items). An artefact is one `.npz` file (no pickle): a JSON header naming the format
version, the model kind and its hyperparameters, then the arrays, sparse ones as CSR parts.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from music_platform.lib.recommender.interactions import InteractionMatrix
from music_platform.lib.recommender.ranking import mask_seen, top_k

ARTEFACT_FORMAT = 1
_HEADER = "__header__"
_SPARSE_PARTS = ("data", "indices", "indptr", "shape")

State = dict[str, np.ndarray | sp.csr_matrix]

_REGISTRY: dict[str, type[Recommender]] = {}


class Recommender(ABC):
    """Fit on training interactions, score users, recommend and explain."""

    kind: ClassVar[str]
    Params: ClassVar[type]

    def __init__(self, params: Any | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.train: InteractionMatrix | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    def fit(self, train: InteractionMatrix) -> Self:
        self.train = train
        self._fit(train)
        return self

    @abstractmethod
    def _fit(self, train: InteractionMatrix) -> None: ...

    @abstractmethod
    def score(self, user_indices: np.ndarray) -> np.ndarray:
        """Dense float32 scores, one row per user index, one column per item."""

    def contributions(self, user_index: int, item_index: int) -> np.ndarray:
        """How much each of the user's training items (in column order) adds to the score."""
        return np.zeros(len(self._seen_items(user_index)), dtype=np.float32)

    def item_contributions(self, user_index: int, item_indices: np.ndarray) -> np.ndarray:
        """`contributions` for many items at once: one row per item, one column per seed."""
        rows = [self.contributions(user_index, int(item)) for item in np.asarray(item_indices)]
        if not rows:
            return np.zeros((0, len(self._seen_items(user_index))), dtype=np.float32)
        return np.vstack(rows).astype(np.float32, copy=False)

    def recommend(
        self, user_index: int, k: int = 10, exclude_seen: bool = True
    ) -> list[tuple[int, float]]:
        """The k best (item index, score) pairs, ties by ascending item index."""
        scores = self.score(np.array([user_index])).astype(np.float64)
        if exclude_seen:
            mask_seen(scores, self._fitted_train().matrix[[user_index]])
        columns, valid = top_k(scores, k)
        return [(int(item), float(scores[0, item])) for item in columns[0][valid[0]].tolist()]

    def explain(self, user_index: int, item_index: int, n: int = 3) -> list[tuple[int, float]]:
        """The user's training items (seed item index, contribution) behind a recommendation."""
        seeds = self._seen_items(user_index)
        weights = self.contributions(user_index, item_index)
        order = np.lexsort((seeds, -weights))[:n]
        return [(int(seeds[i]), float(weights[i])) for i in order if weights[i] > 0]

    def explain_many(
        self, user_index: int, item_indices: np.ndarray | list[int], n: int = 2
    ) -> list[list[tuple[int, float]]]:
        """`explain` for each of `item_indices`, sharing the per-user work."""
        seeds = self._seen_items(user_index)
        weights = self.item_contributions(user_index, np.asarray(item_indices, dtype=np.int64))
        explained = []
        for row in weights:
            order = np.lexsort((seeds, -row))[:n]
            explained.append([(int(seeds[i]), float(row[i])) for i in order if row[i] > 0])
        return explained

    def save(self, path: Path | str) -> Path:
        """Write the artefact; returns its path (numpy appends `.npz` when missing)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        header = {"format": ARTEFACT_FORMAT, **self._header()}
        arrays = _flatten(self._full_state())
        with path.open("wb") as handle:
            np.savez(handle, **{_HEADER: np.array(json.dumps(header))}, **arrays)
        return path

    @classmethod
    def load(cls, path: Path | str) -> Recommender:
        """Read an artefact written by `save` (of any model kind)."""
        with np.load(Path(path), allow_pickle=False) as archive:
            header = json.loads(str(archive[_HEADER]))
            if header.get("format") != ARTEFACT_FORMAT:
                raise ValueError(f"unsupported artefact format {header.get('format')!r}")
            state = _unflatten({key: archive[key] for key in archive.files if key != _HEADER})
        model = model_type(header["kind"])._from_header(header)
        model._restore_full(state)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {header['kind']}, not a {cls.__name__}")
        return model

    def recipe(self) -> dict[str, Any]:
        """What the model is before fitting: its kind and hyperparameters (and its parts'), as
        JSON values; `from_recipe` builds an unfitted model from it."""
        return json.loads(json.dumps(self._header()))

    @classmethod
    def _from_header(cls, header: dict[str, Any]) -> Recommender:
        return cls(cls.Params(**header["params"]))

    def _header(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dataclasses.asdict(self.params)}

    def _full_state(self) -> State:
        train = self._fitted_train()
        return {
            "train": train.matrix,
            "user_ids": train.user_ids,
            "item_ids": train.item_ids,
            **{f"model.{key}": value for key, value in self._state().items()},
        }

    def _restore_full(self, state: State) -> None:
        self.train = InteractionMatrix(state["train"], state["user_ids"], state["item_ids"])
        prefix = "model."
        self._restore({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

    def _state(self) -> State:
        return {}

    def _restore(self, state: State) -> None:
        del state

    def _fitted_train(self) -> InteractionMatrix:
        if self.train is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return self.train

    def _seen_items(self, user_index: int) -> np.ndarray:
        matrix = self._fitted_train().matrix
        return matrix.indices[matrix.indptr[user_index] : matrix.indptr[user_index + 1]]


def read_recipe(path: Path | str) -> dict[str, Any]:
    """The recipe of the model in an artefact, without reading its arrays."""
    with np.load(Path(path), allow_pickle=False) as archive:
        header = json.loads(str(archive[_HEADER]))
    header.pop("format")
    return header


def from_recipe(recipe: dict[str, Any], item_features: sp.spmatrix | None = None) -> Recommender:
    """An unfitted model of the recipe; `item_features` go to the parts that use them (rows in
    the item order of the interactions it will be fitted on)."""
    model = model_type(recipe["kind"])._from_header(recipe)
    for part in (model, *getattr(model, "components", {}).values()):
        if getattr(part, "uses_item_features", False):
            part.item_features = item_features
    return model


def model_type(kind: str) -> type[Recommender]:
    """The model class registered under `kind` (as written in artefact headers)."""
    return _REGISTRY[kind]


def _flatten(state: State) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if sp.issparse(value):
            csr = sp.csr_matrix(value)
            parts = (csr.data, csr.indices, csr.indptr, np.array(csr.shape))
            arrays.update(
                {f"{key}:{name}": part for name, part in zip(_SPARSE_PARTS, parts, strict=True)}
            )
        else:
            arrays[key] = np.asarray(value)
    return arrays


def _unflatten(arrays: dict[str, np.ndarray]) -> State:
    state: State = {}
    for key, value in arrays.items():
        name, _, part = key.rpartition(":")
        if not name:
            state[key] = value
        elif part == "data":
            state[name] = sp.csr_matrix(
                (value, arrays[f"{name}:indices"], arrays[f"{name}:indptr"]),
                shape=tuple(arrays[f"{name}:shape"]),
            )
    return state
