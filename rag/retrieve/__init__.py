"""Store -> hits: hybrid dense + BM25 fusion with filters."""
