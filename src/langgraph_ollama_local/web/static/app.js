// The approval inbox. A client of the public HTTP API, no framework, no build step.
// Every piece of data (tool arguments, model replies, names) goes into the page with
// textContent via el() — never innerHTML — so model-written markup shows as text.
import { $, el, messageText, parseTime, pretty, remaining, timeEl, uid } from "./dom.js";
import { api, setCsrf } from "./api.js";
import { argsSchema, diffArgs, editForm, renderDiff } from "./schema.js";

const VIEWS = ["inbox", "history", "thread", "chat"];
const DONE_VERB = {
  approved: "Approved", edited: "Approved with edits", rejected: "Rejected", responded: "Responded to",
  answered: "Answered", cancelled: "Cancelled", escalated: "Escalated",
};
const state = {
  me: { user: "", roles: [] },
  view: null,
  thread: null,
  cards: new Map(), // approval id -> { item, li, dirty, stale }
  inboxSeq: 0,
  historySeq: 0,
  threadSeq: 0,
  chat: null, // { thread, runId, streamed, ended }
};

// -- small pieces -------------------------------------------------------------------------

function announce(text) {
  const region = $("announce");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

function title(item) {
  if (item.kind === "question") return `Question: ${item.description || "the agent asks"}`;
  if (item.kind === "breakpoint") return item.description || "Paused at a breakpoint";
  return item.tool || "(unnamed tool)";
}

function threadLink(threadId) {
  return el("a", { href: `#/thread/${encodeURIComponent(threadId)}`, class: "thread-link",
    "aria-label": `Open thread ${threadId}`, text: threadId });
}

function countdown(item) {
  if (!item.deadline) return el("span", { class: "countdown none", text: "no deadline" });
  const node = el("span", { class: "countdown", "data-deadline": item.deadline });
  tick(node);
  return node;
}

function tick(node) {
  const at = parseTime(node.dataset.deadline);
  const overdue = at !== null && at <= Date.now();
  node.textContent = overdue && node.closest(".card[data-status=pending]") ? "deadline passed: expiring…" : remaining(node.dataset.deadline);
  node.classList.toggle("overdue", overdue);
  node.classList.toggle("soon", !overdue && at !== null && at - Date.now() < 5 * 60 * 1000);
}

setInterval(() => {
  for (const node of document.querySelectorAll(".countdown[data-deadline]")) tick(node);
}, 1000);

function stageText(item) {
  if (item.kind !== "tool_approval" && item.kind !== "batched_action") return null;
  const count = item.stage_count || 1;
  const role = item.required_role || "approver";
  const mine = state.me.roles.includes(role) ? "" : " (not one of your roles)";
  return `Stage ${item.stage || "approval"} (${(item.stage_index || 0) + 1} of ${count}) · needs role ${role}${mine}`;
}

function sortItems(items) {
  return [...items].sort((a, b) => {
    const da = parseTime(a.deadline), db = parseTime(b.deadline);
    if (da !== db) {
      if (da === null) return 1;
      if (db === null) return -1;
      return da - db;
    }
    return (parseTime(a.created_at) || 0) - (parseTime(b.created_at) || 0);
  });
}

// -- conversations --------------------------------------------------------------------------

const WHO = { human: "User", ai: "Agent", tool: "Tool result", system: "System" };

function messageItem(message, highlightCallId) {
  const data = message.data || {};
  const edited = (data.additional_kwargs || {}).hitl_edited_by;
  // A message written by a state edit is never shown as what the agent, a tool or the user said.
  const who = edited ? `Written by ${edited} (state edit, as ${WHO[message.type] || message.type})`
    : message.type === "tool" && data.name ? `Tool result (${data.name})` : WHO[message.type] || message.type;
  const text = messageText(data.content);
  const li = el("li", { class: `message ${message.type}${edited ? " edited" : ""}` },
    el("strong", { class: "who", text: `${who}: ` }));
  if (text) li.append(el("span", { class: "content", text }));
  for (const call of data.tool_calls || []) {
    const current = highlightCallId && call.id === highlightCallId;
    li.append(el("pre", { class: current ? "call current" : "call",
      text: `${current ? "this request → " : "→ "}${call.name}(${JSON.stringify(call.args, null, 2)})` }));
  }
  return li;
}

async function messagesOf(threadId) {
  const thread = await api(`/threads/${encodeURIComponent(threadId)}/state`);
  return { messages: (thread.values && thread.values.messages) || [], interrupts: thread.interrupts || [] };
}

function conversationBox(item) {
  const box = el("details", { class: "conversation" }, el("summary", { text: "Conversation that led here" }));
  const list = el("ol", { class: "messages" });
  const error = el("p", { class: "error", role: "alert" });
  box.append(list, error);
  box.addEventListener("toggle", async () => {
    if (!box.open) return;
    error.textContent = "";
    if (!list.children.length) list.append(el("li", { class: "muted", text: "loading…" }));
    try {
      const { messages } = await messagesOf(item.thread_id);
      list.replaceChildren(...messages.map((m) => messageItem(m, item.tool_call_id)));
      if (!messages.length) list.append(el("li", { class: "muted", text: "no messages" }));
    } catch (exc) {
      list.replaceChildren();
      error.textContent = exc.message;
    }
  });
  return box;
}

// -- cards ------------------------------------------------------------------------------------

function card(item, { interactive }) {
  const headId = uid("card");
  const li = el("li", { class: "card", "data-id": item.id, "data-status": item.status, "aria-labelledby": headId });
  li.append(
    el("h3", { id: headId },
      el("span", { class: "tool", text: title(item) }), " ",
      el("span", { class: `badge ${item.status}`, text: item.status })),
    el("p", { class: "meta" }, "Thread ", threadLink(item.thread_id), " · asked by ",
      el("strong", { text: item.requested_by || "unknown" }),
      item.requested_by && item.requested_by === state.me.user ? " (you)" : "", " · ", timeEl(item.created_at)),
  );
  const stage = stageText(item);
  if (stage) li.append(el("p", { class: "meta stage", text: stage }));
  if (item.status === "pending") li.append(el("p", { class: "meta" }, "Deadline: ", countdown(item)));
  // A policy's own description says why this needs a person; the generated default only
  // repeats the arguments shown below.
  if (item.description && item.kind !== "question" && item.kind !== "breakpoint"
      && !item.description.startsWith(`Approve ${item.tool} with args`)) {
    li.append(el("p", { class: "meta description", text: item.description }));
  }
  if (item.tool) {
    li.append(el("p", { class: "args-label", text: "Arguments" }),
      el("pre", { class: "args", tabindex: "0", "aria-label": `Arguments of ${item.tool}`, text: pretty(item.args || {}) }));
    li.append(...provenanceNotes(item));
  }
  if (item.status !== "pending") li.append(...outcome(item));
  li.append(conversationBox(item));
  if (interactive && item.status === "pending") li.append(decisionControls(item));
  return li;
}

// Where the arguments came from (the gate's `hitl.provenance`): flags first, as warnings, then
// one line naming what the user wrote, what only a tool result said, what the model wrote.
function provenanceNotes(item) {
  const provenance = item.provenance;
  if (!provenance || !Array.isArray(provenance.arguments)) return [];
  const parts = [];
  for (const flag of provenance.flags || []) {
    parts.push(el("p", { class: "provenance flag", role: "alert", text: `⚠ ${flag.message}` }));
  }
  const label = { user: "from the user", tool_result: "only in a tool result", model: "written by the model" };
  const groups = {};
  for (const arg of provenance.arguments) (groups[arg.source] = groups[arg.source] || []).push(arg.path);
  const text = Object.entries(groups).map(([source, paths]) => `${paths.join(", ")}: ${label[source] || source}`).join(" · ");
  if (text) parts.push(el("p", { class: "meta provenance", text: `Where the arguments came from — ${text}` }));
  return parts;
}

function outcome(item) {
  const parts = [];
  const by = [item.decided_by ? `decided by ${item.decided_by}` : "", item.decided_at ? `at ${new Date(parseTime(item.decided_at)).toLocaleString()}` : ""]
    .filter(Boolean).join(" ");
  if (by) parts.push(el("p", { class: "meta decided", text: by }));
  if (item.reason) parts.push(el("p", { class: "meta", text: `reason: ${item.reason}` }));
  const message = item.decision && typeof item.decision.message === "string" ? item.decision.message : null;
  if (message && message !== item.reason) parts.push(el("p", { class: "meta", text: `message: ${message}` }));
  if (item.decision && item.kind === "question" && "value" in item.decision) {
    parts.push(el("p", { class: "meta", text: `answer: ${pretty(item.decision.value)}` }));
  }
  if (item.edited_args) {
    parts.push(el("p", { class: "args-label", text: "Edited arguments" }),
      el("div", { class: "diff" }, ...renderDiff(diffArgs(item.args || {}, item.edited_args))));
  }
  return parts;
}

// The decision buttons and their forms. Forms are built once per card and kept, so switching
// between them, a refused decision or a live refresh never loses what was typed.
function decisionControls(item) {
  const entry = () => state.cards.get(item.id);
  const box = el("div", { class: "decide" });
  const bar = el("div", { class: "actions", role: "group", "aria-label": `Decide on ${title(item)}` });
  const panel = el("div", { class: "panel", id: uid("panel") });
  const error = el("p", { class: "error", role: "alert" });
  box.append(bar, panel, error);
  box.addEventListener("input", () => { const e = entry(); if (e) e.dirty = true; });
  const forms = {};
  let openKind = null;
  let opener = null;

  const setBusy = (busy) => {
    for (const button of box.querySelectorAll("button")) button.disabled = busy;
    box.setAttribute("aria-busy", String(busy));
  };
  const send = async (decision, errorNode = error) => {
    errorNode.textContent = "";
    error.textContent = "";
    setBusy(true);
    try {
      const decided = await api(`/approvals/${encodeURIComponent(item.id)}/decision`, { method: "POST", body: decision });
      announce(`${DONE_VERB[decided.status] || decided.status}: ${title(item)} in thread ${item.thread_id}`);
      removeCard(item.id, true);
      refreshSoon();
    } catch (exc) {
      setBusy(false);
      errorNode.textContent = exc.message; // the form keeps what was typed
      if (exc.status === 409) {
        const e = entry();
        if (e) e.stale = true;
        const now = exc.body && exc.body.approval;
        for (const button of box.querySelectorAll("button")) button.disabled = true; // the text stays readable
        if (now) errorNode.textContent = `${exc.message} (now ${now.status}${now.decided_by ? ` by ${now.decided_by}` : ""})`;
        box.append(el("button", { type: "button", text: "Dismiss", on: { click: () => { removeCard(item.id, true); refreshSoon(); } } }));
      }
    }
  };
  const close = () => {
    panel.replaceChildren();
    openKind = null;
    for (const button of bar.querySelectorAll("[aria-expanded]")) button.setAttribute("aria-expanded", "false");
    if (opener) opener.focus();
  };
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); close(); } });
  const toggle = async (kind, button, build) => {
    if (openKind === kind) { close(); return; }
    opener = button;
    openKind = kind;
    for (const b of bar.querySelectorAll("[aria-expanded]")) b.setAttribute("aria-expanded", String(b === button));
    if (!forms[kind]) {
      panel.replaceChildren(el("p", { class: "muted", text: "loading…" }));
      try {
        forms[kind] = await build();
      } catch (exc) {
        panel.replaceChildren();
        error.textContent = exc.message;
        openKind = null;
        button.setAttribute("aria-expanded", "false");
        return;
      }
      if (openKind !== kind) return;
    }
    panel.replaceChildren(forms[kind].form);
    forms[kind].focus();
  };
  const toggleButton = (kind, text, label, className, build) => {
    const button = el("button", { type: "button", class: className, text, "aria-label": label,
      "aria-expanded": "false", "aria-controls": panel.id });
    button.addEventListener("click", () => toggle(kind, button, build));
    return button;
  };
  const where = `${title(item)} in thread ${item.thread_id}`;

  if (item.kind === "question") {
    const build = async () => {
      const detail = await api(`/approvals/${encodeURIComponent(item.id)}`);
      const choices = detail.payload && Array.isArray(detail.payload.choices) ? detail.payload.choices : null;
      const id = uid("answer");
      const input = choices
        ? el("select", { id }, ...choices.map((c, i) => el("option", { value: String(i), text: String(c) })))
        : el("input", { id, type: "text", autocomplete: "off" });
      const formError = el("p", { class: "error", role: "alert" });
      const form = el("form", { class: "answer-form" }, el("label", { for: id, text: "Your answer" }), input,
        el("div", { class: "actions" }, el("button", { type: "submit", class: "approve", text: "Send answer" })), formError);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!choices && !input.value.trim()) { formError.textContent = "Write an answer first."; input.focus(); return; }
        send({ type: "answer", value: choices ? choices[Number(input.value)] : input.value }, formError);
      });
      return { form, focus: () => input.focus() };
    };
    bar.append(toggleButton("answer", "Answer…", `Answer ${where}`, "approve", build));
    return box;
  }
  if (item.kind === "breakpoint") {
    bar.append(
      el("button", { type: "button", class: "approve", text: "Continue", "aria-label": `Continue the run in thread ${item.thread_id}`,
        on: { click: () => send({ type: "continue" }) } }),
      el("button", { type: "button", class: "reject", text: "Cancel run", "aria-label": `Cancel the run in thread ${item.thread_id}`,
        on: { click: () => send({ type: "cancel" }) } }),
    );
    return box;
  }

  const allowed = new Set(item.allowed_decisions || []);
  if (allowed.has("approve")) {
    bar.append(el("button", { type: "button", class: "approve", text: "Approve", "aria-label": `Approve ${where}`,
      on: { click: () => send({ type: "approve" }) } }));
  }
  if (allowed.has("edit")) {
    bar.append(toggleButton("edit", "Edit…", `Edit the arguments of ${where}`, "", async () => {
      const detail = await api(`/approvals/${encodeURIComponent(item.id)}`);
      const schema = argsSchema(detail) || { type: "object", properties: {} };
      return editForm(item, schema, (args, summary) => send({ type: "edit", args }, summary), close);
    }));
  }
  if (allowed.has("reject")) {
    bar.append(toggleButton("reject", "Reject…", `Reject ${where}`, "reject", async () =>
      textForm("Reason for rejecting", "Reject", "reject", "Give a reason: the agent and the audit trail see it.",
        (text, formError) => send({ type: "reject", reason: text }, formError), close)));
  }
  if (allowed.has("respond")) {
    bar.append(toggleButton("respond", "Respond…", `Respond instead of running ${where}`, "", async () =>
      textForm("Message to the agent instead of running the tool", "Send response", "",
        "Write the message the agent gets in place of the tool result.",
        (text, formError) => send({ type: "respond", message: text }, formError), close)));
  }
  if (!bar.children.length) bar.append(el("p", { class: "muted", text: "No decision is offered to you here." }));
  return box;
}

function textForm(label, buttonText, buttonClass, emptyMessage, submit, cancel) {
  const id = uid("text");
  const area = el("textarea", { id, rows: "3", maxlength: "4000" });
  const formError = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "text-form" }, el("label", { for: id, text: label }), area,
    el("div", { class: "actions" },
      el("button", { type: "submit", class: buttonClass, text: buttonText }),
      el("button", { type: "button", text: "Cancel", on: { click: cancel } })),
    formError);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!area.value.trim()) { formError.textContent = emptyMessage; area.focus(); return; }
    submit(area.value, formError);
  });
  return { form, focus: () => area.focus() };
}

// afterDecision: this person just decided it (focus may have dropped to <body> while the
// buttons were disabled); otherwise focus moves only if it was inside the card.
function removeCard(id, afterDecision) {
  const entry = state.cards.get(id);
  if (!entry) return;
  const hadFocus = entry.li.contains(document.activeElement) || (afterDecision && document.activeElement === document.body);
  const next = entry.li.nextElementSibling || entry.li.previousElementSibling;
  entry.li.remove();
  state.cards.delete(id);
  if (hadFocus) {
    const target = next && (next.querySelector(".actions button:not([disabled])") || next.querySelector("a"));
    (target || $("inbox-title")).focus();
  }
  $("inbox-empty").hidden = state.cards.size > 0;
}

// -- inbox ----------------------------------------------------------------------------------

function filterParams(form, extra = {}) {
  const params = new URLSearchParams({ limit: "200", count: "capped", ...extra });
  for (const [key, value] of new FormData(form)) if (String(value).trim()) params.set(key, String(value).trim());
  return params;
}

async function loadInbox() {
  const seq = ++state.inboxSeq;
  let data;
  try {
    data = await api(`/approvals?${filterParams($("filters"))}`);
  } catch (exc) {
    if (seq === state.inboxSeq) $("inbox-error").textContent = `Could not load the inbox: ${exc.message}`;
    return;
  }
  if (seq !== state.inboxSeq) return; // a newer load is under way
  $("inbox-error").textContent = "";
  const status = $("f-status").value;
  $("inbox-title").textContent = status === "pending" ? "Pending requests" : `Requests: ${status}`;
  const items = sortItems(data.items);
  const list = $("inbox");
  const wanted = new Set(items.map((i) => i.id));
  for (const [id, entry] of [...state.cards]) {
    if (wanted.has(id) || entry.stale || entry.checking) continue;
    // Left the list while this person was typing in it: keep the card and the input.
    if (entry.dirty && entry.item.status === "pending") keepOrFlag(entry);
    else removeCard(id, false); // focus, if it was there, goes to the next card
  }
  let previous = null;
  for (const item of items) {
    let entry = state.cards.get(item.id);
    const changed = entry && (entry.item.status !== item.status || entry.item.deadline !== item.deadline
      || entry.item.stage_index !== item.stage_index);
    if (!entry || (changed && !entry.dirty)) {
      const li = card(item, { interactive: true });
      if (entry) entry.li.replaceWith(li);
      entry = { item, li, dirty: false, stale: false };
      state.cards.set(item.id, entry);
    }
    entry.item = item;
    const expected = previous ? previous.nextElementSibling : list.firstElementChild;
    if (entry.li !== expected) list.insertBefore(entry.li, expected); // only moves what is out of order
    previous = entry.li;
  }
  $("inbox-empty").hidden = state.cards.size > 0;
  $("inbox-empty").textContent = status === "pending" ? "Nothing waits for a decision." : "No request matches these filters.";
}

// A card being worked on left the list: still pending (filtered out) stays as it is;
// decided elsewhere or expired is said so, with its input kept, until dismissed.
async function keepOrFlag(entry) {
  entry.checking = true;
  let now;
  try {
    now = await api(`/approvals/${encodeURIComponent(entry.item.id)}`);
  } catch {
    now = { status: "gone" };
  } finally {
    entry.checking = false;
  }
  if (now.status === "pending" || entry.stale || state.cards.get(entry.item.id) !== entry) return;
  entry.stale = true;
  for (const button of entry.li.querySelectorAll(".decide button")) button.disabled = true;
  const by = now.decided_by ? ` by ${now.decided_by}` : "";
  entry.li.append(
    el("p", { class: "error", role: "alert", text: `This request is no longer pending: now ${now.status}${by}.` }),
    el("button", { type: "button", text: "Dismiss", on: { click: () => removeCard(entry.item.id, true) } }),
  );
}

async function loadCount() {
  try {
    const data = await api("/approvals?status=pending&limit=1&count=capped");
    const shown = data.total_is_exact ? String(data.total) : `${data.total}+`;
    $("pending-count").textContent = shown;
    document.title = document.title.replace(/^\(\d+\+?\) /, "");
    if (data.total) document.title = `(${shown}) ${document.title}`;
  } catch {
    // the inbox load shows the error
  }
}

// -- history and threads ----------------------------------------------------------------------

async function loadHistory() {
  const seq = ++state.historySeq;
  try {
    const data = await api(`/approvals?${filterParams($("history-filters"))}`);
    if (seq !== state.historySeq) return; // a newer load (other filters) is under way
    const done = data.items.filter((item) => item.status !== "pending")
      .sort((a, b) => (parseTime(b.decided_at || b.created_at) || 0) - (parseTime(a.decided_at || a.created_at) || 0));
    $("history").replaceChildren(...done.map((item) => card(item, { interactive: false })));
    $("history-empty").hidden = done.length > 0;
    $("history-error").textContent = "";
  } catch (exc) {
    if (seq === state.historySeq) $("history-error").textContent = `Could not load the history: ${exc.message}`;
  }
}

function auditLine(entry) {
  const data = entry.data || {};
  const details = ["status", "tool", "reason", "message", "rule"].filter((k) => data[k] !== undefined && data[k] !== null)
    .map((k) => `${k}: ${typeof data[k] === "string" ? data[k] : JSON.stringify(data[k])}`).join(", ");
  return el("li", {}, timeEl(entry.at), ` · ${entry.actor} · `, el("strong", { text: entry.action }),
    details ? ` (${details})` : "");
}

async function loadThread(threadId) {
  const seq = ++state.threadSeq;
  state.thread = threadId;
  $("thread-title").textContent = `Thread ${threadId}`;
  $("thread-error").textContent = "";
  const id = encodeURIComponent(threadId);
  const [conversation, requests, trail] = await Promise.allSettled([
    messagesOf(threadId), api(`/approvals?status=all&thread_id=${id}&limit=200`), api(`/audit?thread_id=${id}&limit=1000`),
  ]);
  if (seq !== state.threadSeq) return;
  const problems = [conversation, requests, trail].filter((r) => r.status === "rejected").map((r) => r.reason.message);
  $("thread-error").textContent = problems.join("; ");
  if (conversation.status === "fulfilled") $("thread-messages").replaceChildren(...conversation.value.messages.map((m) => messageItem(m)));
  if (requests.status === "fulfilled") {
    $("thread-requests").replaceChildren(...sortItems(requests.value.items).map((item) => card(item, { interactive: false })));
  }
  if (trail.status === "fulfilled") $("thread-audit").replaceChildren(...trail.value.map(auditLine));
}

// -- a conversation with the agent ----------------------------------------------------------

function lastReply(messages) {
  let reply = null;
  for (const message of messages) {
    if (message.type === "human") reply = null;
    if (message.type === "ai" && !(message.data.tool_calls || []).length && messageText(message.data.content)) reply = message;
  }
  return reply ? messageText(reply.data.content) : "";
}

async function startChat(event) {
  event.preventDefault();
  const thread = $("chat-thread").value.trim();
  const message = $("chat-message").value;
  $("chat-error").textContent = "";
  if (!thread || !message.trim()) { $("chat-error").textContent = "Give a thread name and a message."; return; }
  const chat = { thread, runId: null, streamed: "", ended: false };
  state.chat = chat;
  $("chat-reply").textContent = "";
  $("chat-status").textContent = "Sending…";
  $("chat-send").disabled = true;
  try {
    const run = await api(`/threads/${encodeURIComponent(thread)}/runs`, { method: "POST", body: { message } });
    chat.runId = run.id;
    $("chat-message").value = ""; // sent: only now is the draft cleared
    if (!chat.ended) $("chat-status").textContent = "The agent is thinking…";
    pollRun(chat, run.id);
  } catch (exc) {
    $("chat-error").textContent = exc.message;
    $("chat-status").textContent = "";
  } finally {
    $("chat-send").disabled = false;
  }
}

// Long-poll the run: the fallback for when no events arrive (no deltas, or no live stream).
async function pollRun(chat, runId) {
  while (state.chat === chat && chat.runId === runId && !chat.ended) {
    let run;
    try {
      run = await api(`/runs/${encodeURIComponent(runId)}/wait?seconds=20`);
    } catch (exc) {
      $("chat-status").textContent = `Lost track of the run: ${exc.message}`;
      return;
    }
    if (!["queued", "running"].includes(run.status)) {
      await finishChat(chat, run.status, run.error);
      return;
    }
  }
}

async function finishChat(chat, status, error) {
  if (state.chat !== chat) return;
  chat.ended = true;
  let thread;
  try {
    thread = await messagesOf(chat.thread);
  } catch (exc) {
    $("chat-status").textContent = `The run ended (${status}), but the conversation could not be read: ${exc.message}`;
    return;
  }
  if (state.chat !== chat) return;
  $("chat-transcript").replaceChildren(...thread.messages.map((m) => messageItem(m)));
  const reply = lastReply(thread.messages);
  if (reply) $("chat-reply").textContent = reply;
  if (status === "failed") $("chat-status").textContent = `The run failed: ${error || "unknown error"}`;
  else if (thread.interrupts.length || status === "paused") {
    $("chat-status").replaceChildren("Waiting for an approval: ", el("a", { href: "#/inbox", text: "decide in the inbox" }),
      ". The reply continues here once it is decided.");
  } else $("chat-status").textContent = "Done.";
}

function onDelta(event) {
  const chat = state.chat;
  if (!chat || event.thread_id !== chat.thread || (chat.runId && event.run_id !== chat.runId)) return;
  if (chat.ended) return;
  if (!chat.streamed) $("chat-reply").textContent = "";
  chat.streamed += event.content || "";
  $("chat-reply").textContent = chat.streamed;
  $("chat-status").textContent = "The agent is replying…";
}

function onRunEvent(event) {
  const chat = state.chat;
  if (!chat || event.thread_id !== chat.thread) return;
  if (event.type === "run.started" || event.type === "run.queued") {
    if (chat.runId !== event.run_id && chat.ended) {
      // The run resumed after a decision: follow the new run.
      chat.runId = event.run_id;
      chat.ended = false;
      chat.streamed = "";
      $("chat-status").textContent = "Decided: the agent continues…";
      pollRun(chat, event.run_id);
    }
    return;
  }
  if (event.run_id === chat.runId && !chat.ended) {
    finishChat(chat, event.type.replace("run.", ""), event.error);
  }
}

// -- views and live updates ------------------------------------------------------------------

function route() {
  const match = /^#\/(inbox|history|chat|thread)(?:\/(.+))?$/.exec(location.hash);
  const view = match ? match[1] : "inbox";
  const arg = match && match[2] ? decodeURIComponent(match[2]) : null;
  show(view === "thread" && !arg ? "inbox" : view, arg);
}

function show(view, arg) {
  const first = state.view === null;
  state.view = view;
  if (view !== "thread") state.thread = null;
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const pending = $("pending-count").textContent;
  document.title = (pending !== "0" ? `(${pending}) ` : "") + { inbox: "Approvals", history: "History · approvals", chat: "New conversation · approvals",
    thread: `Thread ${arg} · approvals` }[view];
  if (view === "inbox") loadInbox();
  if (view === "history") loadHistory();
  if (view === "thread") loadThread(arg);
  if (!first) $(`${view}-title`).focus();
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadCount();
    if (state.view === "inbox") loadInbox();
    if (state.view === "history") loadHistory();
    if (state.view === "thread" && state.thread) loadThread(state.thread);
  }, 120);
}

function listen() {
  const source = new EventSource("/events", { withCredentials: true });
  let lost = false;
  const live = $("live");
  source.addEventListener("open", () => {
    live.textContent = "Live";
    live.className = "live on";
    if (lost) refreshSoon(); // catch up on what happened while disconnected
    lost = false;
  });
  source.addEventListener("error", () => {
    live.textContent = "Reconnecting…";
    live.className = "live off";
    if (!lost) api("/auth/me").catch(() => {}); // a 401 here sends the page to /login
    lost = true;
  });
  for (const type of ["approval.requested", "approval.decided", "approval.expired", "approval.escalated"]) {
    source.addEventListener(type, refreshSoon);
  }
  source.addEventListener("message.delta", (message) => onDelta(JSON.parse(message.data)));
  for (const type of ["run.queued", "run.started", "run.succeeded", "run.paused", "run.failed"]) {
    source.addEventListener(type, (message) => {
      const event = JSON.parse(message.data);
      onRunEvent(event);
      if (state.view === "thread" && event.thread_id === state.thread && type !== "run.queued") refreshSoon();
    });
  }
}

async function main() {
  let me;
  try {
    me = await api("/auth/me");
  } catch (exc) {
    $("inbox-error").textContent = exc.message;
    return;
  }
  setCsrf(me.csrf_token);
  state.me = { user: me.user, roles: me.roles || [] };
  $("me").textContent = `${me.user} (${(me.roles || []).join(", ") || "no roles"})`;
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); loadInbox(); });
  $("filters").addEventListener("reset", () => setTimeout(loadInbox, 0));
  $("f-status").addEventListener("change", loadInbox);
  $("history-filters").addEventListener("submit", (event) => { event.preventDefault(); loadHistory(); });
  $("h-status").addEventListener("change", loadHistory);
  $("chat-form").addEventListener("submit", startChat);
  $("chat-thread").value = `web-${Math.random().toString(36).slice(2, 8)}`;
  $("logout").addEventListener("click", async () => {
    try {
      await api("/auth/logout", { method: "POST" });
      location.replace("/login");
    } catch (exc) {
      $("inbox-error").textContent = `Sign-out failed: ${exc.message}`;
    }
  });
  window.addEventListener("hashchange", route);
  listen();
  loadCount();
  route();
}

main();
