// briefing-rag page, rendering: conversation turns (answers, summaries, briefs) with clickable
// citations, and the source viewer that shows a quote in its document.
"use strict";

const CONTEXT_CHARS = 700;
const docCache = new Map();
let opener = null; // the control that opened the source viewer, to return focus to

function newTurn(kind, heading) {
  const list = el("ol", { class: "footnotes" });
  const sources = el("section", { class: "sources", hidden: "" }, [el("h4", { text: "Sources" }), list]);
  const turn = {
    draft: el("p", { class: "draft", hidden: "" }),
    body: el("div", { class: "answer-body", "aria-live": "polite" }),
    meta: el("p", { class: "answer-meta muted small" }),
    exports: el("div", { class: "row exports", hidden: "" }),
    sources, list, heading,
  };
  turn.root = el("article", { class: "panel turn answer", "data-kind": kind, "data-state": "working" }, [
    el("h3", { class: "turn-question", text: heading }), turn.draft, turn.body, turn.meta, turn.exports, sources]);
  $("conversation").append(turn.root);
  turn.root.scrollIntoView({ block: "nearest" });
  return turn;
}

function citeButton(citation) {
  const label = "Source " + citation.n + ": " + (citation.title || citation.path);
  return el("button", {
    type: "button", class: "cite", "data-n": String(citation.n), "aria-label": label, title: label,
    onclick: () => openCitation(citation),
  }, [String(citation.n)]);
}

function appendCitations(node, numbers, byN) {
  for (const n of numbers) {
    const citation = byN.get(n);
    if (citation) node.append(el("sup", {}, [citeButton(citation)]));
  }
}

function unverifiedFlag(node) {
  node.classList.add("unsupported");
  node.title = "No passage in the documents supports this sentence";
  node.append(el("span", { class: "flag", text: " (not verified)" }));
}

function renderFootnotes(turn, citations) {
  turn.list.replaceChildren(...citations.map((c) => {
    const where = (c.title || c.path) + (c.page != null ? ", p. " + c.page : "");
    return el("li", { value: String(c.n) }, [
      el("button", { type: "button", class: "link footnote", onclick: () => openCitation(c) }, [where]),
      el("q", { class: "quote", text: c.quote }),
    ]);
  }));
  turn.sources.hidden = !citations.length;
}

function coverageText(coverage) {
  if (!coverage) return "";
  const docs = coverage.documents + (coverage.documents === 1 ? " document" : " documents");
  return docs + " · " + coverage.chunks_read + " of " + coverage.chunks_total + " passages read";
}

function finishTurn(turn, parts) {
  turn.draft.hidden = true;
  turn.meta.textContent = parts.filter(Boolean).join(" · ");
  turn.root.dataset.state = "done";
}

function renderAnswer(turn, answer) {
  const byN = new Map(answer.citations.map((c) => [c.n, c]));
  const paragraph = el("p", { class: answer.refused ? "refused" : "" });
  if (answer.refused || !answer.sentences.length) {
    paragraph.textContent = answer.answer;
  } else {
    answer.sentences.forEach((sentence, i) => {
      if (i) paragraph.append(" ");
      const span = el("span", { class: "sentence" }, [sentence.text]);
      if (!sentence.supported) unverifiedFlag(span);
      paragraph.append(span);
      appendCitations(paragraph, sentence.citations, byN);
    });
  }
  turn.body.replaceChildren(paragraph);
  renderFootnotes(turn, answer.citations);
  const seconds = answer.timings && answer.timings.total_ms ? (answer.timings.total_ms / 1000).toFixed(1) + " s" : "";
  finishTurn(turn, [coverageText(answer.coverage), seconds, answer.model && answer.model.llm]);
  offerExports(turn, { answer });
}

function claimItem(claim, byN, flagUncited) {
  const item = el("li", {}, [claim.text]);
  if (flagUncited && !claim.citations.length) unverifiedFlag(item);
  appendCitations(item, claim.citations, byN);
  return item;
}

function briefSection(title, items) {
  return items.length ? [el("h4", { text: title }), el("ul", { class: "claims" }, items)] : [];
}

function renderBrief(turn, brief) {
  const byN = new Map(brief.citations.map((c) => [c.n, c]));
  const claims = (list, flag) => list.map((c) => claimItem(c, byN, flag));
  const actors = brief.actors.map((a) => el("li", {}, [
    el("strong", { text: a.name }), a.role ? " (" + a.role + ")" : "",
    a.positions.length ? el("ul", { class: "claims" }, claims(a.positions, true)) : "",
  ]));
  const parts = [
    ...briefSection("Key points", claims(brief.key_points, true)),
    ...briefSection("Actors and their positions", actors),
    ...briefSection("Tensions", claims(brief.tensions, true)),
    ...briefSection("Open questions", claims(brief.open_questions, false)),
  ];
  turn.body.replaceChildren(...(parts.length ? parts : [el("p", { class: "refused", text: "The documents gave nothing to brief." })]));
  turn.body.classList.add("brief");
  renderFootnotes(turn, brief.citations);
  finishTurn(turn, [coverageText(brief.coverage)]);
  offerExports(turn, { brief });
}

// ---- downloads: the shown result as Markdown or Word (POST /export checks every quote) -------
function offerExports(turn, result) {
  const status = el("span", { class: "muted small", role: "status", "aria-live": "polite" });
  const button = (format, label) => el("button", {
    type: "button", class: "quiet small export", "data-format": format,
    "aria-label": "Download “" + turn.heading + "” as " + label,
    onclick: () => downloadExport(Object.assign({ format, title: turn.heading }, result), status),
  }, [label]);
  turn.exports.replaceChildren(el("span", { class: "muted small", text: "Download:" }),
    button("md", "Markdown (.md)"), button("docx", "Word (.docx)"), status);
  turn.exports.hidden = false;
}

async function downloadExport(body, status) {
  status.textContent = "Preparing the file…";
  try {
    const response = await postJson("/export", body, "*/*");
    const blob = await response.blob();
    const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const link = el("a", { href: URL.createObjectURL(blob), download: named ? named[1] : "export." + body.format });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    status.textContent = "Saved " + link.download;
  } catch (err) {
    status.textContent = "Could not export: " + err.message;
  }
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
