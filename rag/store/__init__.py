"""Embeddings -> store: SQLite is the truth; FAISS and BM25 indexes are derived from it; the ingest writer."""
