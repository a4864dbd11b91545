from __future__ import annotations

import numpy as np

from music_platform.lib.rag.embedding import DIMENSIONS, Embedder


def test_vectors_are_unit_length_of_the_model_width_and_deterministic(embedder: Embedder) -> None:
    texts = ["Norwegian black metal", "a calm acoustic folk song", "salsa", "x " * 1000]
    vectors = embedder.embed(texts)
    assert vectors.shape == (len(texts), DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batching (and the length ordering inside it) does not change a text's vector.
    one_by_one = np.vstack([embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)
    np.testing.assert_array_equal(vectors, embedder.embed(texts))


def test_similar_texts_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    metal, death_metal, lullaby = embedder.embed(
        ["heavy metal band from Sweden", "Swedish death metal", "a gentle lullaby for babies"]
    )
    assert metal @ death_metal > metal @ lullaby + 0.2


def test_nothing_to_embed_gives_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, DIMENSIONS)
