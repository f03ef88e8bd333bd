"""Records -> the JSON shapes of DESIGN §3/§4, shared by the CLI and the server."""

from __future__ import annotations

from typing import Any

from rag.types import Answer, Brief, Citation, Claim, Coverage, Document, DocumentInfo, Hit, IngestReport


def citation_json(c: Citation) -> dict[str, Any]:
    return {"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "path": c.path, "title": c.title,
            "page": c.page, "start": c.start, "end": c.end, "quote": c.quote}


def coverage_json(c: Coverage) -> dict[str, int]:
    return {"documents": c.documents, "chunks_read": c.chunks_read, "chunks_total": c.chunks_total}


def answer_json(a: Answer) -> dict[str, Any]:
    """The Answer shape (plus `coverage` for summaries and the chunk ids used, for replay); of the
    index only its version, as DESIGN's Answer has it (never the server's folder)."""
    out: dict[str, Any] = {
        "question": a.question, "answer": a.answer, "refused": a.refused,
        "sentences": [{"text": s.text, "citations": list(s.citations), "supported": s.supported} for s in a.sentences],
        "citations": [citation_json(c) for c in a.citations],
        "model": dict(a.model), "index": {"version": a.index.get("version")}, "timings": dict(a.timings),
        "chunk_ids": list(a.chunk_ids),
    }
    if a.coverage is not None:
        out["coverage"] = coverage_json(a.coverage)
    return out


def claim_json(c: Claim) -> dict[str, Any]:
    return {"text": c.text, "citations": list(c.citations)}


def brief_json(b: Brief) -> dict[str, Any]:
    return {
        "key_points": [claim_json(c) for c in b.key_points],
        "actors": [{"name": a.name, "role": a.role, "positions": [claim_json(c) for c in a.positions]}
                   for a in b.actors],
        "tensions": [claim_json(c) for c in b.tensions],
        "open_questions": [claim_json(c) for c in b.open_questions],
        "citations": [citation_json(c) for c in b.citations],
        "coverage": coverage_json(b.coverage),
    }


def hit_json(h: Hit) -> dict[str, Any]:
    return {"rank": h.rank, "score": h.score, "chunk_id": h.chunk_id, "doc_id": h.doc_id, "path": h.path,
            "title": h.title, "page": h.chunk.page, "start": h.chunk.start, "end": h.chunk.end, "text": h.chunk.text}


def document_info_json(d: DocumentInfo) -> dict[str, Any]:
    return {"doc_id": d.doc_id, "path": d.path, "title": d.title, "date": d.date, "sha256": d.sha256,
            "pages": d.pages, "chunks": d.chunks}


def document_json(d: Document) -> dict[str, Any]:
    return {"doc_id": d.doc_id, "path": d.path, "title": d.title, "date": d.date, "text": d.text,
            "pages": [{"page": p.number, "start": p.start, "end": p.end} for p in d.pages]}


def ingest_json(r: IngestReport) -> dict[str, Any]:
    return {"added": r.added, "updated": r.updated, "unchanged": r.unchanged, "removed": r.removed,
            "documents": r.documents, "chunks": r.chunks, "seconds": r.seconds,
            "failed": [{"path": f.path, "error": f.error} for f in r.failed]}
