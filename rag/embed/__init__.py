"""Chunks -> embeddings: the Embedder protocol and its PyTorch and OpenVINO backends."""
