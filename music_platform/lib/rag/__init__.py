"""Retrieval over the catalogue: document text, offline embeddings, an index in the warehouse
and hybrid (vector + BM25) search."""
