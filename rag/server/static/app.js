// briefing-rag page: a conversation over the documents (follow-ups carry the earlier turns),
// summaries and briefs of the ticked documents, uploads. Helpers in core.js, drawing in render.js.
"use strict";

const HISTORY_TURNS = 6; // earlier question/answer pairs sent with a follow-up
const conversation = []; // {question, reply} of each answered question, oldest first
const selected = new Set(); // ticked doc_ids; none ticked means every document
const titles = new Map();
let busy = false;

function setBusy(on, status) {
  busy = on;
  for (const id of ["ask-button", "summarize-button", "brief-button"]) $(id).disabled = on;
  $("ask-status").textContent = status || "";
}

function historyMessages() {
  return conversation.slice(-HISTORY_TURNS).flatMap((turn) => [
    { role: "user", content: turn.question }, { role: "assistant", content: turn.reply }]);
}

function verifiedText(answer) {
  // what a follow-up builds on: the refusal, or the verified sentences only
  if (answer.refused) return answer.answer;
  return answer.sentences.filter((s) => s.supported).map((s) => s.text).join(" ");
}

async function ask(question) {
  if (busy) return;
  setBusy(true, "Searching the documents…");
  showError("");
  const turn = newTurn("ask", question);
  $("question").value = "";
  try {
    const body = { question, stream: true, history: historyMessages(), doc_ids: [...selected] };
    const response = await postJson("/ask", body, "text/event-stream");
    let answer = null;
    for await (const event of sseEvents(response)) {
      const data = JSON.parse(event.data);
      if (event.event === "token") {
        $("ask-status").textContent = "Writing, then checking every sentence…";
        turn.draft.hidden = false;
        turn.draft.textContent += data.text;
      } else if (event.event === "answer") {
        answer = data;
      } else if (event.event === "error") {
        throw new HttpError(500, data.error.type, data.error.message);
      }
    }
    if (!answer) throw new Error("the answer stream ended early");
    renderAnswer(turn, answer);
    conversation.push({ question, reply: verifiedText(answer) });
  } catch (err) {
    turn.root.remove();
    if (!$("question").value) $("question").value = question;
    showError("Could not answer: " + err.message);
  } finally {
    setBusy(false);
    $("new-chat").hidden = !$("conversation").children.length;
  }
}

function scopeLabel(ids) {
  if (!ids.length) return "all documents";
  if (ids.length > 3) return ids.length + " documents";
  return ids.map((id) => titles.get(id) || id).join(", ");
}

async function cover(kind) {
  if (busy) return;
  const ids = [...selected];
  const label = scopeLabel(ids);
  const summary = kind === "summary";
  setBusy(true, (summary ? "Summarising " : "Writing a brief of ") + label + "…");
  showError("");
  const turn = newTurn(kind, (summary ? "Summary: " : "Brief: ") + label);
  try {
    const data = await (await postJson(summary ? "/summarize" : "/brief", { doc_ids: ids })).json();
    if (summary) renderAnswer(turn, data);
    else renderBrief(turn, data);
  } catch (err) {
    turn.root.remove();
    showError((summary ? "Could not summarise: " : "Could not write the brief: ") + err.message);
  } finally {
    setBusy(false);
    $("new-chat").hidden = !$("conversation").children.length;
  }
}

function newConversation() {
  conversation.length = 0;
  $("conversation").replaceChildren();
  $("new-chat").hidden = true;
  showError("");
  $("question").focus();
}

// ---- documents ----------------------------------------------------------------------------
function updateScope() {
  const n = selected.size;
  $("scope").textContent = n
    ? n + (n === 1 ? " document" : " documents") + " ticked: questions, summaries and briefs use only " +
      (n === 1 ? "it." : "them.")
    : "All documents: questions, summaries and briefs use every document; tick some to narrow them.";
}

async function refreshStatus() {
  try {
    const health = await (await fetch("/health")).json();
    $("index-status").textContent = health.documents + " documents · " + health.chunks + " passages";
  } catch (err) {
    $("index-status").textContent = "server unreachable";
  }
}

function documentItem(d) {
  const title = d.title || d.path;
  const pick = el("input", { type: "checkbox", class: "doc-pick", id: "pick-" + d.doc_id, value: d.doc_id,
    onchange: () => {
      if (pick.checked) selected.add(d.doc_id);
      else selected.delete(d.doc_id);
      updateScope();
    } });
  pick.checked = selected.has(d.doc_id);
  return el("li", {}, [
    pick,
    el("label", { class: "doc-title", for: "pick-" + d.doc_id, text: title }),
    el("span", { class: "muted small", text: [d.date, d.pages ? d.pages + " pages" : "", d.chunks + " passages"]
      .filter(Boolean).join(" · ") }),
    el("button", { type: "button", class: "quiet small", "aria-label": "Remove " + title,
      onclick: () => removeDocument(d) }, ["Remove"]),
  ]);
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
  titles.clear();
  for (const d of docs) titles.set(d.doc_id, d.title || d.path);
  for (const id of [...selected]) if (!titles.has(id)) selected.delete(id);
  updateScope();
  if (!docs.length) {
    list.replaceChildren(el("li", { class: "muted", text: "No documents yet: upload one, or run `rag ingest FOLDER`." }));
    return;
  }
  list.replaceChildren(...docs.map(documentItem));
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
  $("new-chat").addEventListener("click", newConversation);
  $("summarize-button").addEventListener("click", () => cover("summary"));
  $("brief-button").addEventListener("click", () => cover("brief"));
  $("viewer-close").addEventListener("click", closeViewer);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("viewer").hidden) closeViewer();
  });
  $("upload-form").addEventListener("submit", upload);
  refreshDocuments();
}

document.addEventListener("DOMContentLoaded", start);
