"""`rag eval`: retrieval, QA and summary metrics on public sets."""
