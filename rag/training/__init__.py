"""Training recipes for the project's own models (read SQuAD 2.0 train articles by path; never eval ones)."""
