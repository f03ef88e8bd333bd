"""The `rag` command: a thin typed shell over Assistant."""
