"""rag.server.app over a real socket (uvicorn in a thread, httpx client) with a fake Assistant:
every route, SSE event by event, errors, auth, uploads, the bounded generation queue, serve()."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.server.app import create_app
from rag.store.uploads import safe_filename
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, TOKENS, fake_assistant, parse_sse, running_server

ANSWER_KEYS = {"question", "answer", "refused", "sentences", "citations", "model", "index", "timings"}
CITATION_KEYS = {"n", "doc_id", "chunk_id", "path", "title", "page", "start", "end", "quote"}


@pytest.fixture
def fake(tmp_path: Path):
    return fake_assistant(tmp_path / "index")


@pytest.fixture
def url(fake):
    app = create_app(fake)
    with running_server(app) as base:
        yield base


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    return body["error"]


# -- health, documents -----------------------------------------------------------------------
def test_health_counts_documents_and_is_zero_without_an_index(fake, url, tmp_path):
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "documents": 2, "chunks": 4}
    empty = fake_assistant(tmp_path / "other")
    empty.docs.clear()
    with running_server(create_app(empty)) as base:
        assert httpx.get(f"{base}/health").json() == {"status": "ok", "documents": 0, "chunks": 0}


def test_documents_list_show_and_delete(fake, url):
    listed = httpx.get(f"{url}/documents").json()
    assert {d["title"] for d in listed} == {"Levy postponed", "Storage targets"}
    assert set(listed[0]) == {"doc_id", "path", "title", "date", "sha256", "pages", "chunks"}
    levy = next(d for d in listed if d["title"] == "Levy postponed")
    shown = httpx.get(f"{url}/documents/{levy['doc_id']}").json()
    assert shown["text"] == LEVY_TEXT and shown["pages"] == [] and shown["doc_id"] == levy["doc_id"]
    assert httpx.delete(f"{url}/documents/{levy['doc_id']}").json() == {"removed": [levy["doc_id"]]}
    assert [d["title"] for d in httpx.get(f"{url}/documents").json()] == ["Storage targets"]
    missing = httpx.get(f"{url}/documents/{levy['doc_id']}")
    assert missing.status_code == 404
    err = error_of(missing)
    assert err["type"] == "not_found" and levy["doc_id"] in err["message"]
    assert str(fake.settings.index_dir.resolve()) not in err["message"]  # server path scrubbed


def test_unknown_route_and_method_use_the_error_shape(url):
    assert error_of(httpx.get(f"{url}/nope"))["type"] == "not_found"
    wrong = httpx.get(f"{url}/ask")
    assert wrong.status_code == 405 and error_of(wrong)["type"] == "method_not_allowed"


# -- ask ---------------------------------------------------------------------------------------
def test_ask_returns_the_answer_json(fake, url):
    response = httpx.post(f"{url}/ask", json={"question": "When does the levy start?", "k": 3})
    assert response.status_code == 200
    answer = response.json()
    assert ANSWER_KEYS <= set(answer)
    assert answer["question"] == "When does the levy start?" and not answer["refused"]
    citation = answer["citations"][0]
    assert set(citation) == CITATION_KEYS
    assert LEVY_TEXT[citation["start"]:citation["end"]] == citation["quote"]
    assert answer["sentences"][1] == {"text": "Everyone welcomed the change.", "citations": [], "supported": False}


def test_answers_over_http_carry_the_index_version_but_no_server_path(fake, url):
    folder = fake.settings.index_dir
    plain = httpx.post(f"{url}/ask", json={"question": "When?"})
    with httpx.stream("POST", f"{url}/ask", json={"question": "When?", "stream": True}) as response:
        streamed = parse_sse("".join(response.iter_text()))[-1][1]
    summary = httpx.post(f"{url}/summarize", json={})
    for body in (plain.text, streamed, summary.text):
        assert str(folder.resolve()) not in body and str(folder) not in body and str(folder.parent) not in body
        assert json.loads(body)["index"] == {"version": fake.version}


def test_ask_stream_sends_tokens_then_the_answer(url):
    with httpx.stream("POST", f"{url}/ask", json={"question": "When?", "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = parse_sse(body)
    names = [name for name, _ in events]
    assert names == ["token"] * len(TOKENS) + ["answer"]
    assert "".join(json.loads(data)["text"] for name, data in events[:-1]) == "".join(TOKENS)
    final = json.loads(events[-1][1])
    assert ANSWER_KEYS <= set(final) and final["citations"][0]["quote"].startswith("The Coastal")


def test_ask_stream_failure_after_tokens_is_an_error_event(fake, url):
    fake.fail_after_tokens = True
    with httpx.stream("POST", f"{url}/ask", json={"question": "When?", "stream": True}) as response:
        assert response.status_code == 200
        events = parse_sse("".join(response.iter_text()))
    assert events[0][0] == "token" and events[-1][0] == "error"
    assert json.loads(events[-1][1]) == {"error": {"type": "generation_error",
                                                   "message": "the model stopped: out of memory"}}
    plain = httpx.post(f"{url}/ask", json={"question": "When?"})
    assert plain.status_code == 502 and error_of(plain)["type"] == "generation_error"


def test_ask_stream_error_before_the_first_token_keeps_its_status(url):
    response = httpx.post(f"{url}/ask", json={"question": "When?", "stream": True, "doc_ids": ["nope"]})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert error_of(response)["type"] == "not_found"


@pytest.mark.parametrize("body, where", [
    ({}, "question"), ({"question": ""}, "question"), ({"question": "x", "k": 0}, "k"),
    ({"question": "x", "colour": "red"}, "colour"),
])
def test_ask_validation_errors_are_422_in_the_error_shape(url, body, where):
    response = httpx.post(f"{url}/ask", json=body)
    assert response.status_code == 422
    err = error_of(response)
    assert err["type"] == "validation_error" and where in err["message"]


def test_malformed_json_is_422(url):
    response = httpx.post(f"{url}/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and error_of(response)["type"] == "validation_error"


def test_client_leaving_a_stream_stops_the_generation(fake, tmp_path):
    fake.token_delay = 0.3
    app = create_app(fake)
    with running_server(app) as base:
        with httpx.stream("POST", f"{base}/ask", json={"question": "When?", "stream": True}) as response:
            first = next(response.iter_lines())
            assert first == "event: token"
        deadline = time.monotonic() + 10
        while (not fake.finished or app.state.gate.admitted) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.finished == ["ClientGone"]
        assert app.state.gate.admitted == 0
        assert httpx.post(f"{base}/ask", json={"question": "again"}, timeout=10).status_code == 200


# -- search, summarize, brief -----------------------------------------------------------------
def test_search_returns_the_hit_list(url):
    hits = httpx.post(f"{url}/search", json={"question": "levy", "k": 1, "mode": "bm25",
                                             "since": "2026-01-01"}).json()
    assert len(hits) == 1
    assert set(hits[0]) == {"rank", "score", "chunk_id", "doc_id", "path", "title", "page", "start", "end", "text"}
    assert hits[0]["rank"] == 1


@pytest.mark.parametrize("body", [{"question": "x", "mode": "fuzzy"}, {"question": "x", "since": "March 2026"}])
def test_search_rejects_bad_mode_and_date(url, body):
    response = httpx.post(f"{url}/search", json=body)
    assert response.status_code == 422 and error_of(response)["type"] == "validation_error"


def test_summarize_and_brief(url):
    summary = httpx.post(f"{url}/summarize", json={}).json()
    assert ANSWER_KEYS <= set(summary) and summary["coverage"] == {"documents": 2, "chunks_read": 2, "chunks_total": 4}
    assert httpx.post(f"{url}/summarize").status_code == 200  # no body: the whole corpus
    brief = httpx.post(f"{url}/brief", json={"doc_ids": []}).json()
    assert set(brief) == {"key_points", "actors", "tensions", "open_questions", "citations", "coverage"}
    assert brief["actors"][0]["positions"][0] == {"text": SUPPORTED, "citations": [1]}


def test_unexpected_exception_is_a_generic_500_with_a_logged_traceback(fake, url, caplog):
    fake.fail_search = ValueError("secret detail at /home/someone/private/file.txt")
    with caplog.at_level(logging.ERROR, logger="rag.server"):
        response = httpx.post(f"{url}/search", json={"question": "x"})
    assert response.status_code == 500
    err = error_of(response)
    assert err["type"] == "internal_error"
    assert "secret" not in response.text and "/home" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.name == "rag.server"]
    assert logged and logged[0].exc_info is not None and "secret detail" in str(logged[0].exc_info[1])


# -- page and docs -----------------------------------------------------------------------------
def test_page_static_files_and_api_docs_are_local(url):
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="question"' in page.text and "http" not in page.text.replace('href="/docs"', "")
    for asset in ("/static/app.js", "/static/style.css"):
        assert httpx.get(f"{url}{asset}").status_code == 200
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "/docs-assets/" in docs.text and "cdn." not in docs.text  # fastapi-offline's files, no CDN
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        assert httpx.get(f"{url}/docs-assets/{asset}").status_code == 200
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/summarize", "/brief", "/documents", "/documents/{doc_id}", "/v1/models",
            "/v1/chat/completions", "/health"} <= set(paths)


# -- auth --------------------------------------------------------------------------------------
def test_api_key_guards_every_route_but_health_and_the_page(tmp_path):
    fake = fake_assistant(tmp_path / "index", api_key="s3cret")
    with running_server(create_app(fake)) as base:
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/").status_code == 200  # the page itself holds no data; it asks for the key
        calls = [("GET", "/documents", None), ("POST", "/ask", {"question": "x"}),
                 ("POST", "/search", {"question": "x"}), ("POST", "/summarize", {}), ("POST", "/brief", {}),
                 ("GET", "/v1/models", None), ("DELETE", "/documents/abc", None),
                 ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]})]
        for method, path, body in calls:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                response = httpx.request(method, f"{base}{path}", json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert error_of(response)["type"] == "unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
        good = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{base}/documents", headers=good).status_code == 200
        assert httpx.post(f"{base}/ask", json={"question": "x"}, headers=good).status_code == 200
        upload = httpx.post(f"{base}/documents", files={"file": ("a.txt", b"hello there")})
        assert upload.status_code == 401


# -- uploads -----------------------------------------------------------------------------------
def test_upload_stores_ingests_and_answers_the_entry(fake, url):
    response = httpx.post(f"{url}/documents", files={"file": ("Harbour note.md", b"# Note\n\nHarbours agree.\n")})
    assert response.status_code == 201, response.text
    entry = response.json()
    stored = fake.settings.index_dir / "uploads" / "Harbour note.md"
    assert stored.read_bytes() == b"# Note\n\nHarbours agree.\n"
    assert entry["path"] == str(stored.resolve())
    assert entry in httpx.get(f"{url}/documents").json()
    again = httpx.post(f"{url}/documents", files={"file": ("Harbour note.md", b"# Note\n\nHarbours disagree.\n")})
    assert again.status_code == 200 and again.json()["doc_id"] == entry["doc_id"]
    assert httpx.delete(f"{url}/documents/{entry['doc_id']}").status_code == 200
    assert not stored.exists()  # an uploaded copy goes with its document


def test_upload_of_a_bad_file_is_422_and_leaves_nothing_behind(fake, url):
    before = httpx.get(f"{url}/documents").json()
    response = httpx.post(f"{url}/documents", files={"file": ("report.pdf", b"this is not a pdf at all")})
    assert response.status_code == 422
    err = error_of(response)
    assert err["type"] == "document_error" and "report.pdf" in err["message"] and "PDF" in err["message"]
    assert str(fake.settings.index_dir.resolve()) not in err["message"]
    assert httpx.get(f"{url}/documents").json() == before
    assert list((fake.settings.index_dir / "uploads").iterdir()) == []


def test_a_bad_replacement_keeps_the_previous_upload(fake, url):
    good = b"%PDF-1.4 pretend pdf"
    assert httpx.post(f"{url}/documents", files={"file": ("r.pdf", good)}).status_code == 201
    assert httpx.post(f"{url}/documents", files={"file": ("r.pdf", b"garbage")}).status_code == 422
    folder = fake.settings.index_dir / "uploads"
    assert [p.name for p in folder.iterdir()] == ["r.pdf"] and (folder / "r.pdf").read_bytes() == good


def test_upload_too_large_is_413(fake, url):
    big = b"x" * (1024 * 1024 + 10)  # the fake's limit is 1 MiB
    response = httpx.post(f"{url}/documents", files={"file": ("big.txt", big)})
    assert response.status_code == 413 and error_of(response)["type"] == "too_large"

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        boundary = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\r\n"
        yield boundary
        for _ in range(40):
            yield b"y" * 65536
        yield b"\r\n--XyZ--\r\n"

    streamed = httpx.post(f"{url}/documents", content=chunks(),
                          headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert streamed.status_code == 413
    assert not (fake.settings.index_dir / "uploads" / "big.txt").exists()


def test_upload_type_and_form_checks(url):
    exe = httpx.post(f"{url}/documents", files={"file": ("tool.exe", b"MZ")})
    assert exe.status_code == 415 and error_of(exe)["type"] == "unsupported_media_type"
    missing = httpx.post(f"{url}/documents", files={"other": ("a.txt", b"hi")})
    assert missing.status_code == 422 and "file" in error_of(missing)["message"]
    raw = httpx.post(f"{url}/documents", content=b"hi", headers={"Content-Type": "text/plain"})
    assert raw.status_code == 415


def test_upload_path_traversal_stays_inside_uploads(fake, url, tmp_path):
    for name in ("../../evil.txt", "..\\..\\evil.txt", "/etc/evil.txt"):
        response = httpx.post(f"{url}/documents", files={"file": (name, b"evil content here")})
        assert response.status_code in (200, 201), response.text
        assert Path(response.json()["path"]) == (fake.settings.index_dir / "uploads" / "evil.txt").resolve()
    assert not (tmp_path / "evil.txt").exists() and not (fake.settings.index_dir / "evil.txt").exists()
    assert sorted(p.name for p in (fake.settings.index_dir / "uploads").iterdir()) == ["evil.txt"]


@pytest.mark.parametrize("given, expected", [
    ("../../evil.txt", "evil.txt"), ("..\\..\\win.md", "win.md"), ("/abs/path/a.pdf", "a.pdf"),
    ("..", "upload"), (".hidden.txt", "hidden.txt"), ("a <>|:*?b.txt", "a _b.txt"), ("x..y...txt", "x.y.txt"),
    ("Überblick 2026.DOCX", "Überblick 2026.docx"), ("nul\x00byte.txt", "nul_byte.txt"), ("", "upload"),
    ("report.tar.gz", "report.tar.gz"), ("a" * 300 + ".txt", "a" * 100 + ".txt"),
])
def test_safe_filename(given, expected):
    assert safe_filename(given) == expected


# -- bounded generation queue ------------------------------------------------------------------
def test_full_generation_queue_is_429_while_search_and_docs_stay_concurrent(fake):
    fake.block = threading.Event()
    app = create_app(fake, max_waiting=1)
    results: list[int] = []
    with running_server(app) as base:
        def ask() -> None:
            results.append(httpx.post(f"{base}/ask", json={"question": "q"}, timeout=30).status_code)

        workers = [threading.Thread(target=ask) for _ in range(2)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + 10
        while (fake.entered < 1 or app.state.gate.admitted < 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.entered == 1 and app.state.gate.admitted == 2  # one generating, one waiting
        busy = httpx.post(f"{base}/ask", json={"question": "q"})
        assert busy.status_code == 429
        assert int(busy.headers["retry-after"]) >= 1 and error_of(busy)["type"] == "busy"
        chat = httpx.post(f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}]})
        assert chat.status_code == 429
        t0 = time.monotonic()
        assert httpx.post(f"{base}/search", json={"question": "levy"}).status_code == 200
        assert httpx.get(f"{base}/documents").status_code == 200
        assert httpx.get(f"{base}/health").status_code == 200
        assert time.monotonic() - t0 < 5  # not stuck behind the blocked generation
        fake.block.set()
        for w in workers:
            w.join(30)
    assert results == [200, 200] and fake.entered == 2


def test_other_sites_cannot_use_the_browser_to_reach_the_server(fake, url):
    port = url.rsplit(":", 1)[1]
    evil = httpx.post(f"{url}/documents", files={"file": ("x.txt", b"injected text")},
                      headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and error_of(evil)["type"] == "forbidden"
    assert not (fake.settings.index_dir / "uploads").exists()
    assert httpx.post(f"{url}/ask", json={"question": "q"}, headers={"Origin": "null"}).status_code == 403
    own = httpx.post(f"{url}/search", json={"question": "levy"}, headers={"Origin": f"http://127.0.0.1:{port}"})
    assert own.status_code == 200
    rebound = httpx.get(f"{url}/documents", headers={"Host": f"attacker.example:{port}"})
    assert rebound.status_code == 403 and "attacker.example" in error_of(rebound)["message"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
        assert httpx.get(f"{url}/health", headers={"Host": host}).status_code == 200, host


def test_any_host_is_served_when_the_app_allows_it(fake):
    with running_server(create_app(fake, allowed_hosts=None)) as base:
        assert httpx.get(f"{base}/health", headers={"Host": "briefings.internal:8000"}).status_code == 200


def test_shutdown_ends_open_streams_with_an_error_event(fake):
    fake.token_delay = 0.3
    app = create_app(fake)
    with running_server(app) as base:
        with httpx.stream("POST", f"{base}/ask", json={"question": "q", "stream": True}, timeout=30) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: token"
            app.state.gate.stopping.set()  # what serve() does on SIGTERM/SIGINT
            events = parse_sse("event: token\n" + "\n".join(lines))
        assert events[-1][0] == "error" and json.loads(events[-1][1])["error"]["type"] == "shutting_down"
        refused = httpx.post(f"{base}/ask", json={"question": "q"})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert httpx.post(f"{base}/search", json={"question": "levy"}).status_code == 200
