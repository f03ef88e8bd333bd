"""One reader per file format; each returns text with page offsets or raises DocumentError naming the file."""
