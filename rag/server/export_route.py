"""POST /export: an answer, summary or brief the page already shows, as a Markdown or Word download.

The body carries the result JSON as `/ask`, `/summarize` or `/brief` returned it (nothing is
generated again); every quote is checked against the indexed document before the file is made,
so a stale or edited result is refused (409) instead of exported.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from rag.export import MEDIA_TYPES, file_name, from_answer, from_brief, render
from rag.server.common import ApiError, assistant_of
from rag.types import Actor, Answer, AnswerSentence, Brief, Citation, Claim, Coverage

router = APIRouter()


class CitationIn(BaseModel):
    """A Citation as the result JSON holds it."""

    model_config = ConfigDict(extra="ignore")
    n: int = Field(ge=1)
    doc_id: str
    chunk_id: str = ""
    path: str = ""
    title: str = ""
    page: int | None = None
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    quote: str = Field(min_length=1)

    def record(self) -> Citation:
        return Citation(self.n, self.doc_id, self.chunk_id, self.path, self.title, self.page, self.start, self.end,
                        self.quote)


class SentenceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = False


class CoverageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    documents: int = Field(ge=0)
    chunks_read: int = Field(ge=0)
    chunks_total: int = Field(ge=0)

    def record(self) -> Coverage:
        return Coverage(self.documents, self.chunks_read, self.chunks_total)


class AnswerIn(BaseModel):
    """The Answer JSON of /ask or /summarize (a summary has `coverage`)."""

    model_config = ConfigDict(extra="ignore")
    question: str = ""
    answer: str = ""
    refused: bool = False
    sentences: list[SentenceIn] = Field(default_factory=list)
    citations: list[CitationIn] = Field(default_factory=list)
    model: dict[str, Any] = Field(default_factory=dict)
    index: dict[str, Any] = Field(default_factory=dict)
    coverage: CoverageIn | None = None

    def record(self) -> Answer:
        return Answer(self.question, self.answer, self.refused,
                      tuple(AnswerSentence(s.text, tuple(s.citations), s.supported) for s in self.sentences),
                      tuple(c.record() for c in self.citations), model={k: str(v) for k, v in self.model.items()},
                      index=dict(self.index), coverage=self.coverage.record() if self.coverage else None)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str
    citations: list[int] = Field(default_factory=list)

    def record(self) -> Claim:
        return Claim(self.text, tuple(self.citations))


class ActorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    role: str = ""
    positions: list[ClaimIn] = Field(default_factory=list)


class BriefIn(BaseModel):
    """The brief JSON of /brief."""

    model_config = ConfigDict(extra="ignore")
    key_points: list[ClaimIn] = Field(default_factory=list)
    actors: list[ActorIn] = Field(default_factory=list)
    tensions: list[ClaimIn] = Field(default_factory=list)
    open_questions: list[ClaimIn] = Field(default_factory=list)
    citations: list[CitationIn] = Field(default_factory=list)
    coverage: CoverageIn

    def record(self) -> Brief:
        claims = lambda items: tuple(c.record() for c in items)  # noqa: E731
        return Brief(claims(self.key_points),
                     tuple(Actor(a.name, a.role, claims(a.positions)) for a in self.actors),
                     claims(self.tensions), claims(self.open_questions),
                     tuple(c.record() for c in self.citations), self.coverage.record())


class ExportRequest(BaseModel):
    """POST /export: one result (`answer` for /ask and /summarize, or `brief`) and the file format."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["md", "docx"] = Field(description="md: Markdown with footnotes; docx: Word with a Sources section")
    title: str | None = Field(default=None, max_length=500,
                              description="the heading (default: the question, the summary's label, or 'Brief')")
    answer: AnswerIn | None = Field(default=None, description="the Answer JSON of /ask or /summarize")
    brief: BriefIn | None = Field(default=None, description="the JSON of /brief")


@router.post("/export", summary="Download a shown answer, summary or brief as Markdown or Word",
             response_class=Response,
             responses={200: {"content": {MEDIA_TYPES["md"]: {}, MEDIA_TYPES["docx"]: {}},
                              "description": "the file, as an attachment"},
                        409: {"description": "a quote no longer matches its document (it changed or was removed)"}})
def export(body: ExportRequest, request: Request) -> Response:
    """The result as a file: every quote checked against the indexed document at its offsets first;
    unsupported sentences are left out of the text and listed under "Not verified"."""
    if (body.answer is None) == (body.brief is None):
        raise ApiError(422, "validation_error", "give exactly one of `answer` or `brief`")
    assistant = assistant_of(request)
    if body.answer is not None:
        answer = body.answer.record()
        version = answer.index.get("version")
        result = from_answer(answer, assistant.document, title=body.title,
                             index_version=version if version is not None else assistant.stats()["version"])
    else:
        assert body.brief is not None
        result = from_brief(body.brief.record(), assistant.document, title=body.title,
                            index_version=assistant.stats()["version"])
    name = file_name(result, body.format)
    return Response(render(result, body.format), media_type=MEDIA_TYPES[body.format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})
