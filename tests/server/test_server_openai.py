"""The OpenAI-compatible routes, driven by the real `openai` client over a real socket."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from rag.config import MAX_CONVERSATION_CHARS, MAX_QUESTION_CHARS
from rag.server.app import create_app
from rag.server.openai_route import NOTHING_VERIFIED, SOURCES_HEADING, strip_footnotes
from rag.types import AnswerSentence
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, fake_assistant, parse_sse, running_server

QUOTE = "The Coastal Flood-Defence Levy will take effect on 1 January 2027."
FOOTNOTE = f'[1] Levy postponed: "{QUOTE}"'
CONTRADICTION = "The levy was cancelled outright."


@pytest.fixture
def fake(tmp_path: Path):
    return fake_assistant(tmp_path / "index", api_key="k-123")


@pytest.fixture
def client(fake):
    with running_server(create_app(fake)) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key="k-123", max_retries=0, timeout=30)


def test_models_lists_one_model(client):
    assert [m.id for m in client.models.list()] == ["briefing-rag"]


@pytest.fixture
def unsupported_first(fake):
    """An answer whose first sentence contradicts the document and is flagged unsupported."""
    fake.sentences = (AnswerSentence(CONTRADICTION, (), False), AnswerSentence(SUPPORTED, (1,), True))
    return fake


def test_content_holds_only_verified_sentences(client, unsupported_first):
    reply = client.chat.completions.create(model="briefing-rag",
                                           messages=[{"role": "user", "content": "When does the levy start?"}])
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.role == "assistant"
    assert text == f"{SUPPORTED[:-1]} [1].\n\n{SOURCES_HEADING}\n{FOOTNOTE}"
    assert CONTRADICTION not in text
    assert reply.model_extra["unverified"] == [CONTRADICTION] and reply.model_extra["refused"] is False
    citations = reply.model_extra["citations"]
    assert citations[0]["quote"] == QUOTE == LEVY_TEXT[citations[0]["start"]:citations[0]["end"]]
    assert unsupported_first.histories == [[]]


def test_streamed_content_holds_only_verified_sentences(client, unsupported_first):
    messages = [{"role": "user", "content": [{"type": "text", "text": "When does the levy start?"}]}]
    plain = client.chat.completions.create(model="any", messages=messages).choices[0].message.content
    chunks = list(client.chat.completions.create(model="any", messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == plain and CONTRADICTION not in streamed
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert chunks[-1].model_extra["citations"][0]["quote"] == QUOTE
    assert chunks[-1].model_extra["unverified"] == [CONTRADICTION]
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_nothing_verified_says_so_instead_of_an_empty_reply(client, fake):
    fake.sentences = (AnswerSentence(CONTRADICTION, (), False),)
    reply = client.chat.completions.create(model="x", messages=[{"role": "user", "content": "When?"}])
    assert reply.choices[0].message.content == NOTHING_VERIFIED
    assert reply.model_extra["unverified"] == [CONTRADICTION] and reply.model_extra["citations"] == []


def test_history_goes_to_a_chat_session_without_our_footnotes(client, fake):
    earlier = f"{SUPPORTED} [1]\n\n{SOURCES_HEADING}\n{FOOTNOTE}"
    client.chat.completions.create(model="briefing-rag", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "When does the levy start?"},
        {"role": "assistant", "content": earlier},
        {"role": "user", "content": "And who asked for more time?"},
    ])
    assert fake.sessions == [[{"role": "user", "content": "When does the levy start?"},
                              {"role": "assistant", "content": f"{SUPPORTED} [1]"}]]


def test_no_user_message_is_a_validation_error(client):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model="x", messages=[{"role": "system", "content": "hi"}])
    assert caught.value.body["type"] == "validation_error"


def test_wrong_key_is_rejected_by_the_client(fake):
    with running_server(create_app(fake)) as base:
        wrong = openai.OpenAI(base_url=f"{base}/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()


def test_stream_error_after_the_start_reaches_the_client(client, fake):
    fake.fail_after_tokens = True
    with pytest.raises(openai.APIError, match="out of memory"):
        list(client.chat.completions.create(model="x", messages=[{"role": "user", "content": "q"}], stream=True))


def test_raw_stream_format_ends_with_done(fake):
    fake.token_delay = 0.35  # long enough for keep-alive comments between tokens
    with running_server(create_app(fake)) as base:
        response = httpx.post(f"{base}/v1/chat/completions", headers={"Authorization": "Bearer k-123"},
                              json={"messages": [{"role": "user", "content": "q"}], "stream": True}, timeout=30)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert ": keep-alive" in response.text
    events = parse_sse(response.text)
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1


def test_strip_footnotes_leaves_other_text_alone():
    assert strip_footnotes("Plain text.\n\nMore.") == "Plain text.\n\nMore."
    assert strip_footnotes(f"A [1].\n\n{SOURCES_HEADING}\n{FOOTNOTE}") == "A [1]."


def test_an_over_long_question_or_conversation_is_a_422_naming_the_field(fake):
    with running_server(create_app(fake)) as base:
        def post(messages: list) -> httpx.Response:
            return httpx.post(f"{base}/v1/chat/completions", headers={"Authorization": "Bearer k-123"},
                              json={"messages": messages}, timeout=30)

        def refused(response: httpx.Response) -> str:
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["type"] == "validation_error"
            return error["message"]

        too_long = "x" * (MAX_QUESTION_CHARS + 1)
        assert "messages[0].content" in refused(post([{"role": "user", "content": too_long}]))
        parts = [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": [{"type": "text", "text": too_long}]}]
        message = refused(post(parts))
        assert "messages[1].content" in message and f"{MAX_QUESTION_CHARS:,}" in message
        earlier = [{"role": "user", "content": "y" * MAX_QUESTION_CHARS},
                   {"role": "assistant", "content": "z" * MAX_QUESTION_CHARS}]
        chatty = earlier * (MAX_CONVERSATION_CHARS // (2 * MAX_QUESTION_CHARS)) + [{"role": "user", "content": "q"}]
        assert refused(post(chatty)).startswith("messages:")
        assert post([{"role": "user", "content": "w" * MAX_QUESTION_CHARS}]).status_code == 200
        ask = httpx.post(f"{base}/ask", headers={"Authorization": "Bearer k-123"}, json={"question": too_long})
        assert ask.status_code == 422 and "question" in ask.json()["error"]["message"]
    assert fake.finished == ["answer"]  # only the question within the cap reached the model
