"""Errors raised by the library. Each message names the file, model, field or index involved."""

from __future__ import annotations


class RagError(Exception):
    """Base class for every error the library raises on purpose."""

    kind = "rag_error"
    status = 400


class ConfigError(RagError):
    """A setting or argument has an invalid value."""

    kind = "config_error"


class QuestionTooLongError(RagError):
    """A question longer than the cap (rag.config.MAX_QUESTION_CHARS) or than the model's window."""

    kind = "question_too_long"
    status = 422


class DocumentError(RagError):
    """A source file could not be read or parsed."""

    kind = "document_error"
    status = 422


class IndexMissingError(RagError):
    """No index exists in the given directory."""

    kind = "index_missing"
    status = 409


class IndexMismatchError(RagError):
    """The index was built with another embedder or format version."""

    kind = "index_mismatch"
    status = 409


class IndexCorruptError(RagError):
    """The index files cannot be read."""

    kind = "index_corrupt"
    status = 500


class IndexLockedError(RagError):
    """Another process is writing to the index."""

    kind = "index_locked"
    status = 409


class StoreUnavailableError(RagError):
    """The chosen store (a Qdrant server, or a Qdrant folder another process holds) cannot be used."""

    kind = "store_unavailable"
    status = 503


class ClusterError(RagError):
    """A Ray cluster (`rag ingest --ray`) cannot be started, reached, or failed during the work."""

    kind = "cluster_unavailable"
    status = 503


class NotFoundError(RagError):
    """A document or chunk id is not in the index."""

    kind = "not_found"
    status = 404


class ModelError(RagError):
    """A model could not be loaded or failed while running."""

    kind = "model_error"
    status = 500


class GenerationError(ModelError):
    """The language model (local or remote) failed to produce text."""

    kind = "generation_error"
    status = 502


class ExportError(RagError):
    """An answer, summary or brief cannot be exported: unknown format, unwritable path, bad input."""

    kind = "export_error"
    status = 422


class StaleExportError(ExportError):
    """A citation no longer matches its document's text (the document changed or was removed)."""

    kind = "stale_citation"
    status = 409
