"""Chunks -> map-reduce summaries and structured briefs, every sentence cited."""
