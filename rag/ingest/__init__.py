"""Sources -> documents -> chunks: discovery, one reader per format, structure-aware chunking."""
