// briefing-rag page: ask, watch the answer stream in, open each citation in its document.
"use strict";

const KEY_STORE = "briefing-rag-api-key";
const CONTEXT_CHARS = 700;
const $ = (id) => document.getElementById(id);
const docCache = new Map();
let busy = false;
let opener = null; // the control that opened the source viewer, to return focus to

class HttpError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

function headers(extra) {
  const out = Object.assign({}, extra || {});
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) out.Authorization = "Bearer " + key;
  return out;
}

async function failure(response) {
  let type = "http_error";
  let message = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    if (body && body.error) {
      type = body.error.type || type;
      message = body.error.message || message;
    }
  } catch (e) { /* not JSON: keep the status line */ }
  if (response.status === 401) askForKey();
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After");
    if (wait) message += " (try again in " + wait + " s)";
  }
  return new HttpError(response.status, type, message);
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const response = await fetch(path, opts);
  if (!response.ok) throw await failure(response);
  return response;
}

function el(tag, props, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children || []) node.append(child);
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function askForKey() {
  const form = $("key-form");
  if (!form.hidden) return;
  form.hidden = false;
  $("api-key").focus();
}

// ---- server-sent events over fetch -------------------------------------------------------
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event) yield event;
    }
  }
  const last = parseEvent(buffer);
  if (last) yield last;
}

// ---- asking -------------------------------------------------------------------------------
function resetAnswer() {
  $("answer").hidden = false;
  $("draft").textContent = "";
  $("draft").hidden = true;
  $("answer-body").replaceChildren();
  $("answer-meta").textContent = "";
  $("footnotes").replaceChildren();
  $("sources").hidden = true;
  showError("");
}

async function ask(question) {
  if (busy) return;
  busy = true;
  $("ask-button").disabled = true;
  $("ask-status").textContent = "Searching the documents…";
  resetAnswer();
  try {
    const response = await api("/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, stream: true }),
    });
    let finished = false;
    for await (const event of sseEvents(response)) {
      const data = JSON.parse(event.data);
      if (event.event === "token") {
        $("ask-status").textContent = "Writing, then checking every sentence…";
        $("draft").hidden = false;
        $("draft").textContent += data.text;
      } else if (event.event === "answer") {
        renderAnswer(data);
        finished = true;
      } else if (event.event === "error") {
        throw new HttpError(500, data.error.type, data.error.message);
      }
    }
    if (!finished) throw new Error("the answer stream ended early");
    $("ask-status").textContent = "";
  } catch (err) {
    $("ask-status").textContent = "";
    $("draft").hidden = true;
    showError("Could not answer: " + err.message);
  } finally {
    busy = false;
    $("ask-button").disabled = false;
  }
}

function citeButton(citation) {
  const label = "Source " + citation.n + ": " + (citation.title || citation.path);
  return el("button", {
    type: "button", class: "cite", "data-n": String(citation.n), "aria-label": label, title: label,
    onclick: () => openCitation(citation),
  }, [String(citation.n)]);
}

function renderAnswer(answer) {
  $("draft").hidden = true;
  const body = $("answer-body");
  const byN = new Map(answer.citations.map((c) => [c.n, c]));
  const paragraph = el("p", { class: answer.refused ? "refused" : "" });
  if (answer.refused || !answer.sentences.length) {
    paragraph.textContent = answer.answer;
  } else {
    answer.sentences.forEach((sentence, i) => {
      if (i) paragraph.append(" ");
      const span = el("span", { class: sentence.supported ? "sentence" : "sentence unsupported" }, [sentence.text]);
      if (!sentence.supported) {
        span.title = "No passage in the documents supports this sentence";
        span.append(el("span", { class: "flag", text: " (not verified)" }));
      }
      paragraph.append(span);
      for (const n of sentence.citations) {
        const citation = byN.get(n);
        if (citation) paragraph.append(el("sup", {}, [citeButton(citation)]));
      }
    });
  }
  body.replaceChildren(paragraph);
  const list = $("footnotes");
  list.replaceChildren();
  for (const c of answer.citations) {
    const where = (c.title || c.path) + (c.page != null ? ", p. " + c.page : "");
    list.append(el("li", { id: "fn-" + c.n, value: String(c.n) }, [
      el("button", { type: "button", class: "link footnote", onclick: () => openCitation(c) }, [where]),
      el("q", { class: "quote", text: c.quote }),
    ]));
  }
  $("sources").hidden = !answer.citations.length;
  const seconds = answer.timings && answer.timings.total_ms ? (answer.timings.total_ms / 1000).toFixed(1) + " s" : "";
  const model = answer.model && answer.model.llm ? answer.model.llm : "";
  $("answer-meta").textContent = [seconds, model].filter(Boolean).join(" · ");
}

// ---- citations in context -------------------------------------------------------------------
async function loadDocument(docId) {
  if (!docCache.has(docId)) {
    const response = await api("/documents/" + encodeURIComponent(docId));
    docCache.set(docId, await response.json());
  }
  return docCache.get(docId);
}

function widen(text, start, end) {
  let from = Math.max(0, start - CONTEXT_CHARS);
  let to = Math.min(text.length, end + CONTEXT_CHARS);
  if (from > 0) {
    const space = text.indexOf(" ", from);
    if (space >= 0 && space < start) from = space + 1;
  }
  if (to < text.length) {
    const space = text.lastIndexOf(" ", to);
    if (space > end) to = space;
  }
  return [from, to];
}

async function openCitation(citation) {
  const viewer = $("viewer");
  opener = document.activeElement;
  viewer.hidden = false;
  $("viewer-title").textContent = citation.title || citation.path;
  $("viewer-meta").textContent = "Loading…";
  $("viewer-text").replaceChildren();
  try {
    const doc = await loadDocument(citation.doc_id);
    const text = doc.text;
    const [from, to] = widen(text, citation.start, citation.end);
    const mark = el("mark", { id: "quote-mark", text: text.slice(citation.start, citation.end) });
    $("viewer-text").replaceChildren(
      from > 0 ? "…" : "", text.slice(from, citation.start), mark, text.slice(citation.end, to),
      to < text.length ? "…" : "");
    const parts = ["Source " + citation.n];
    if (citation.page != null) parts.push("page " + citation.page);
    if (doc.date) parts.push(doc.date);
    parts.push(doc.path);
    if (text.slice(citation.start, citation.end) !== citation.quote) {
      parts.push("warning: the document changed since this answer");
    }
    $("viewer-meta").textContent = parts.join(" · ");
    mark.scrollIntoView({ block: "center", behavior: "smooth" });
  } catch (err) {
    $("viewer-meta").textContent = "Could not open the document: " + err.message;
  }
  $("viewer-title").focus({ preventScroll: true });
  viewer.scrollIntoView({ block: "nearest" });
}

function closeViewer() {
  $("viewer").hidden = true;
  if (opener && document.body.contains(opener)) opener.focus();
  opener = null;
}

// ---- documents ----------------------------------------------------------------------------
async function refreshStatus() {
  try {
    const health = await (await fetch("/health")).json();
    $("index-status").textContent = health.documents + " documents · " + health.chunks + " passages";
  } catch (err) {
    $("index-status").textContent = "server unreachable";
  }
}

async function refreshDocuments() {
  refreshStatus();
  const list = $("doc-list");
  let docs;
  try {
    docs = await (await api("/documents")).json();
  } catch (err) {
    list.replaceChildren(el("li", { class: "muted", text: "Could not list documents: " + err.message }));
    return;
  }
  if (!docs.length) {
    list.replaceChildren(el("li", { class: "muted", text: "No documents yet: upload one, or run `rag ingest FOLDER`." }));
    return;
  }
  list.replaceChildren(...docs.map((d) => el("li", {}, [
    el("span", { class: "doc-title", text: d.title || d.path }),
    el("span", { class: "muted small", text: [d.date, d.pages ? d.pages + " pages" : "", d.chunks + " passages"]
      .filter(Boolean).join(" · ") }),
    el("button", { type: "button", class: "quiet small", "aria-label": "Remove " + (d.title || d.path),
      onclick: () => removeDocument(d) }, ["Remove"]),
  ])));
}

async function removeDocument(doc) {
  if (!window.confirm("Remove “" + (doc.title || doc.path) + "” from the index?")) return;
  try {
    await api("/documents/" + encodeURIComponent(doc.doc_id), { method: "DELETE" });
    docCache.delete(doc.doc_id);
  } catch (err) {
    showError("Could not remove: " + err.message);
  }
  refreshDocuments();
}

async function upload(event) {
  event.preventDefault();
  const input = $("file");
  if (!input.files.length) return;
  const form = new FormData();
  form.append("file", input.files[0]);
  $("upload-status").textContent = "Uploading and indexing " + input.files[0].name + "…";
  try {
    const doc = await (await api("/documents", { method: "POST", body: form })).json();
    $("upload-status").textContent = "Added “" + (doc.title || doc.path) + "” (" + doc.chunks + " passages).";
    input.value = "";
    docCache.delete(doc.doc_id);
  } catch (err) {
    $("upload-status").textContent = "Not added: " + err.message;
  }
  refreshDocuments();
}

// ---- wiring -------------------------------------------------------------------------------
function start() {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
    $("api-key").value = "";
    $("key-form").hidden = true;
    showError("");
    refreshDocuments();
  });
  $("viewer-close").addEventListener("click", closeViewer);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("viewer").hidden) closeViewer();
  });
  $("upload-form").addEventListener("submit", upload);
  refreshDocuments();
}

document.addEventListener("DOMContentLoaded", start);
