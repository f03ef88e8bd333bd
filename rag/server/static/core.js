// briefing-rag page, shared helpers: the API with its key, errors, elements, server-sent events.
"use strict";

const KEY_STORE = "briefing-rag-api-key";
const $ = (id) => document.getElementById(id);

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

function postJson(path, body, accept) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: accept || "application/json" },
    body: JSON.stringify(body),
  });
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
