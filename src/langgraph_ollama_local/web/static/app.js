// The approval inbox. Every piece of data is inserted with textContent (never innerHTML):
// tool arguments and model replies are untrusted text.
const $ = (id) => document.getElementById(id);
let csrf = null;
let currentView = "inbox";
let chatThread = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.replace("/login");
    throw new Error("signed out");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail
      : Array.isArray(data.detail) ? data.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ")
      : `request failed (${response.status})`;
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return data;
}

// -- views ----------------------------------------------------------------------------

function show(view) {
  currentView = view;
  for (const name of ["inbox", "history", "thread", "chat"]) $(`view-${name}`).hidden = name !== view;
  for (const button of document.querySelectorAll("nav button")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  if (view === "inbox") loadInbox();
  if (view === "history") loadHistory();
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function countdown(deadline) {
  if (!deadline) return el("span", { class: "countdown", text: "no deadline" });
  return el("span", { class: "countdown", "data-deadline": deadline, text: remaining(deadline) });
}

function remaining(deadline) {
  const ms = new Date(deadline).getTime() - Date.now();
  if (ms <= 0) return "deadline passed";
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return `${h ? `${h}h ` : ""}${m}m ${String(sec).padStart(2, "0")}s left`;
}

setInterval(() => {
  for (const node of document.querySelectorAll(".countdown[data-deadline]")) {
    node.textContent = remaining(node.dataset.deadline);
    node.classList.toggle("overdue", new Date(node.dataset.deadline) <= new Date());
  }
}, 1000);

// -- inbox ----------------------------------------------------------------------------

async function loadInbox() {
  const params = new URLSearchParams({ status: "pending", limit: "200" });
  for (const [key, value] of new FormData($("filters"))) if (value) params.set(key, value);
  const data = await api(`/approvals?${params}`);
  $("pending-count").textContent = String(data.total);
  const list = $("inbox");
  list.replaceChildren(...data.items.map(card));
  $("inbox-empty").hidden = data.items.length > 0;
}

function title(item) {
  if (item.kind === "question") return `Question: ${item.description || ""}`;
  if (item.kind === "breakpoint") return item.description || "Paused at a breakpoint";
  return item.tool;
}

function card(item) {
  const li = el("li", { class: "card", "data-id": item.id, "data-status": item.status });
  const threadLink = el("button", { type: "button", class: "link", text: item.thread_id,
    "aria-label": `Open thread ${item.thread_id}`, on: { click: () => openThread(item.thread_id) } });
  const stage = item.kind === "tool_approval" || item.kind === "batched_action"
    ? `stage ${item.stage || "approval"} (${item.stage_index + 1}/${item.stage_count}), role ${item.required_role || "approver"}` : "";
  li.append(
    el("h3", { text: title(item) }),
    el("p", { class: "meta" }, "thread ", threadLink, ` · asked by ${item.requested_by || "?"} · `, countdown(item.deadline)),
  );
  if (stage) li.append(el("p", { class: "meta", text: stage }));
  if (item.status !== "pending") li.append(el("p", { class: "meta" }, el("span", { class: `badge ${item.status}`, text: item.status })));
  if (item.tool) li.append(el("pre", { class: "args", "aria-label": `Arguments of ${item.tool}`, text: pretty(item.args) }));
  const conversation = el("details", {}, el("summary", { text: "Conversation that led here" }));
  conversation.addEventListener("toggle", async () => {
    if (conversation.open && conversation.children.length === 1) conversation.append(await messagesList(item.thread_id));
  }, { once: false });
  li.append(conversation);
  if (item.status === "pending") li.append(actions(item));
  return li;
}

function actions(item) {
  const box = el("div", {});
  const bar = el("div", { class: "actions" });
  const panel = el("div", {});
  const error = el("p", { class: "error", role: "alert" });
  box.append(bar, panel, error);
  const send = async (decision) => {
    error.textContent = "";
    try {
      await api(`/approvals/${item.id}/decision`, { method: "POST", body: decision });
      await loadInbox();
    } catch (exc) {
      error.textContent = exc.message; // the form stays as typed
    }
  };
  const allowed = new Set(item.allowed_decisions || []);
  if (item.kind === "question") {
    const input = el("input", { id: `answer-${item.id}` });
    panel.append(el("label", { for: `answer-${item.id}`, text: "Answer" }), input);
    bar.append(el("button", { type: "button", class: "approve", text: "Send answer",
      on: { click: () => send({ type: "answer", value: input.value }) } }));
    return box;
  }
  if (item.kind === "breakpoint") {
    bar.append(
      el("button", { type: "button", class: "approve", text: "Continue", on: { click: () => send({ type: "continue" }) } }),
      el("button", { type: "button", class: "reject", text: "Cancel run", on: { click: () => send({ type: "cancel" }) } }),
    );
    return box;
  }
  if (allowed.has("approve")) {
    bar.append(el("button", { type: "button", class: "approve", text: "Approve",
      "aria-label": `Approve ${item.tool} in thread ${item.thread_id}`, on: { click: () => send({ type: "approve" }) } }));
  }
  if (allowed.has("edit")) {
    bar.append(el("button", { type: "button", text: "Edit…", on: { click: () => editForm(item, panel, send) } }));
  }
  if (allowed.has("reject")) {
    bar.append(el("button", { type: "button", class: "reject", text: "Reject…",
      on: { click: () => textForm(panel, `reject-${item.id}`, "Reason for rejecting", "Reject",
        (text) => send({ type: "reject", reason: text })) } }));
  }
  if (allowed.has("respond")) {
    bar.append(el("button", { type: "button", text: "Respond…",
      on: { click: () => textForm(panel, `respond-${item.id}`, "Message to the agent instead of running the tool",
        "Send response", (text) => send({ type: "respond", message: text })) } }));
  }
  return box;
}

function textForm(panel, id, label, buttonText, submit) {
  const area = el("textarea", { id, rows: "2", required: true });
  const form = el("form", {}, el("label", { for: id, text: label }), area, el("button", { type: "submit", text: buttonText }));
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(area.value); });
  panel.replaceChildren(form);
  area.focus();
}

function argsSchema(detail) {
  const variants = (detail.response_schema && detail.response_schema.oneOf) || [];
  const edit = variants.find((v) => v.properties && v.properties.type && v.properties.type.const === "edit");
  return edit ? edit.properties.edited_action.properties.args : null;
}

async function editForm(item, panel, send) {
  const detail = await api(`/approvals/${item.id}`);
  const schema = argsSchema(detail) || { type: "object", properties: {} };
  const properties = schema.properties || {};
  const required = new Set(schema.required || []);
  const names = [...new Set([...Object.keys(properties), ...Object.keys(item.args)])];
  const form = el("form", { novalidate: true });
  const fields = {};
  for (const name of names) {
    const spec = properties[name] || {};
    const type = spec.type || (spec.anyOf ? (spec.anyOf.find((s) => s.type !== "null") || {}).type : "string");
    const id = `edit-${item.id}-${name}`;
    const value = item.args[name];
    let input;
    if (type === "boolean") input = el("input", { id, type: "checkbox", checked: value === true });
    else if (type === "number" || type === "integer") input = el("input", { id, type: "number", step: type === "integer" ? "1" : "any", value: value ?? "" });
    else if (type === "string") input = el(String(value ?? "").length > 60 || name === "body" ? "textarea" : "input", { id, rows: "4" });
    else input = el("textarea", { id, rows: "3" });
    if (type === "string") input.value = value ?? "";
    else if (type !== "boolean" && type !== "number" && type !== "integer") input.value = value === undefined ? "" : pretty(value);
    fields[name] = { input, type, required: required.has(name) };
    form.append(el("label", { for: id, text: `${spec.title || name}${required.has(name) ? " (required)" : ""}` }), input);
  }
  const diff = el("div", { class: "diff", "aria-live": "polite" });
  const error = el("p", { class: "error", role: "alert" });
  form.append(el("h4", { text: "Changes" }), diff, error, el("button", { type: "submit", class: "approve", text: "Approve with edits" }));
  const read = () => {
    const args = {};
    const problems = [];
    for (const [name, field] of Object.entries(fields)) {
      const raw = field.input.type === "checkbox" ? field.input.checked : field.input.value;
      if (field.type === "boolean") { args[name] = raw; continue; }
      if (raw === "") { if (field.required) problems.push(`${name} is required`); continue; }
      if (field.type === "number" || field.type === "integer") {
        const number = Number(raw);
        if (!Number.isFinite(number) || (field.type === "integer" && !Number.isInteger(number))) problems.push(`${name} must be a ${field.type}`);
        else args[name] = number;
      } else if (field.type === "string") args[name] = raw;
      else {
        try { args[name] = JSON.parse(raw); } catch { problems.push(`${name} must be JSON`); }
      }
    }
    return { args, problems };
  };
  const renderDiff = () => {
    const { args } = read();
    const rows = [];
    for (const name of names) {
      const before = pretty(item.args[name]), after = pretty(args[name]);
      if (before !== after) rows.push(el("p", {}, `${name}: `, el("del", { text: before ?? "—" }), " → ", el("ins", { text: after ?? "—" })));
    }
    diff.replaceChildren(...(rows.length ? rows : [el("p", { class: "muted", text: "no changes yet" })]));
  };
  form.addEventListener("input", renderDiff);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { args, problems } = read();
    if (problems.length) { error.textContent = problems.join("; "); return; }
    send({ type: "edit", args });
  });
  panel.replaceChildren(form);
  renderDiff();
  const first = form.querySelector("input, textarea");
  if (first) first.focus();
}

// -- history and threads ------------------------------------------------------------------

async function loadHistory() {
  const data = await api("/approvals?status=all&limit=200");
  const done = data.items.filter((item) => item.status !== "pending");
  $("history").replaceChildren(...done.map((item) => {
    const li = card(item);
    const by = item.decided_by ? `decided by ${item.decided_by}` : "";
    li.append(el("p", { class: "meta", text: [by, item.reason ? `reason: ${item.reason}` : ""].filter(Boolean).join(" · ") }));
    if (item.edited_args) li.append(el("pre", { "aria-label": "Edited arguments", text: pretty(item.edited_args) }));
    return li;
  }));
}

async function messagesList(threadId) {
  const state = await api(`/threads/${encodeURIComponent(threadId)}/state`);
  const list = el("ol", { class: "messages" });
  for (const message of state.values.messages || []) {
    const data = message.data || {};
    const who = { human: "You", ai: "Agent", tool: "Tool", system: "System" }[message.type] || message.type;
    const text = typeof data.content === "string" ? data.content : pretty(data.content);
    const li = el("li", {}, el("strong", { text: `${who}: ` }), text);
    for (const call of data.tool_calls || []) li.append(el("pre", { text: `→ ${call.name}(${pretty(call.args)})` }));
    list.append(li);
  }
  return list;
}

async function openThread(threadId) {
  show("thread");
  $("thread-title").textContent = `Thread ${threadId}`;
  $("thread-messages").replaceChildren(...(await messagesList(threadId)).children);
  const trail = await api(`/audit?thread_id=${encodeURIComponent(threadId)}&limit=1000`);
  $("thread-audit").replaceChildren(...trail.map((entry) => el("li", {
    text: `${new Date(entry.at).toLocaleString()} · ${entry.actor} · ${entry.action}${entry.data && entry.data.status ? ` (${entry.data.status})` : ""}`,
  })));
}

// -- conversations ------------------------------------------------------------------------

async function startChat(event) {
  event.preventDefault();
  $("chat-error").textContent = "";
  chatThread = $("chat-thread").value.trim();
  try {
    await api(`/threads/${encodeURIComponent(chatThread)}/runs`, { method: "POST", body: { message: $("chat-message").value } });
    $("chat-reply").textContent = "";
    $("chat-status").textContent = "the agent is thinking…";
  } catch (exc) {
    $("chat-error").textContent = exc.message;
  }
}

async function chatRunEnded(event) {
  if (event.thread_id !== chatThread) return;
  const state = await api(`/threads/${encodeURIComponent(chatThread)}/state`);
  const messages = state.values.messages || [];
  const last = [...messages].reverse().find((m) => m.type === "ai" && !(m.data.tool_calls || []).length);
  if (state.interrupts.length) $("chat-status").textContent = "waiting for an approval (see the inbox)";
  else $("chat-status").textContent = event.type === "run.failed" ? `the run failed: ${event.error || ""}` : "done";
  if (last && !state.interrupts.length) $("chat-reply").textContent = last.data.content;
}

// -- live events --------------------------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (currentView === "inbox") loadInbox();
    if (currentView === "history") loadHistory();
  }, 150);
}

function listen() {
  const source = new EventSource("/events");
  source.onopen = () => { $("live").textContent = "live"; };
  source.onerror = () => { $("live").textContent = "reconnecting…"; };
  for (const type of ["approval.requested", "approval.decided", "approval.expired", "approval.escalated"]) {
    source.addEventListener(type, refreshSoon);
  }
  source.addEventListener("message.delta", (message) => {
    const event = JSON.parse(message.data);
    if (event.thread_id === chatThread) $("chat-reply").textContent += event.content;
  });
  for (const type of ["run.succeeded", "run.paused", "run.failed"]) {
    source.addEventListener(type, (message) => chatRunEnded(JSON.parse(message.data)));
  }
}

async function main() {
  const me = await api("/auth/me");
  csrf = me.csrf_token;
  $("me").textContent = `${me.user} (${me.roles.join(", ") || "no roles"})`;
  for (const button of document.querySelectorAll("nav button")) button.addEventListener("click", () => show(button.dataset.view));
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); loadInbox(); });
  $("thread-back").addEventListener("click", () => show("inbox"));
  $("chat-form").addEventListener("submit", startChat);
  $("chat-thread").value = `web-${Math.random().toString(36).slice(2, 8)}`;
  $("logout").addEventListener("click", async () => { await api("/auth/logout", { method: "POST" }); location.replace("/login"); });
  listen();
  await loadInbox();
}

main();
