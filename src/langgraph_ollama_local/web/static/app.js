// The approval inbox. A client of the public HTTP API, no framework, no build step.
// Every piece of data (tool arguments, model replies, names) goes into the page with
// textContent via el() — never innerHTML — so model-written markup shows as text.
import { $, el, messageText, parseTime, pretty, remaining, timeEl, uid } from "./dom.js";
import { api, setCsrf, signOut } from "./api.js";
import { argsSchema, diffArgs, editForm, renderDiff } from "./schema.js";
import { dropDraft, fillForm, formValues, loadDraft, saveDraft, sweepDrafts } from "./drafts.js";

const VIEWS = ["inbox", "history", "threads", "thread", "chat"];
const DONE_VERB = {
  approved: "Approved", edited: "Approved with edits", rejected: "Rejected", responded: "Responded to",
  answered: "Answered", cancelled: "Cancelled", escalated: "Escalated",
};
const state = {
  me: { user: "", roles: [] },
  view: null,
  thread: null,
  cards: new Map(), // approval id -> { item, li, dirty, stale }
  offset: 0, // inbox paging: the first item shown
  total: 0,
  offline: false, // the server does not answer: decisions wait until it does
  threads: new Map(), // thread id -> promise of its messages, for the cards' "why" lines
  inboxSeq: 0,
  historySeq: 0,
  threadsSeq: 0,
  threadStatus: "interrupted", // the thread list's tab
  threadsShown: 0, // how many rows of that tab are on the page
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
    // A <pre> takes no accessible name either: what it is goes in as (visually hidden) text.
    li.append(el("pre", { class: current ? "call current" : "call" },
      el("span", { class: "visually-hidden", text: current ? "The tool call this request is about: " : "Tool call: " }),
      el("span", { "aria-hidden": "true", text: current ? "this request → " : "→ " }),
      `${call.name}(${JSON.stringify(call.args, null, 2)})`));
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
  const li = el("li", { class: "card", "data-id": item.id, "data-status": item.status, "aria-labelledby": headId,
    tabindex: interactive ? "-1" : null });
  const line = item.summary && item.summary !== title(item) ? item.summary : null;
  li.append(
    el("h3", { id: headId },
      line ? el("span", { class: "summary", text: line }) : null, line ? " " : null,
      el("span", { class: line ? "tool tag" : "tool", text: title(item) }), " ",
      el("span", { class: `badge ${item.status}`, text: item.status })),
    el("p", { class: "meta" }, "Thread ", threadLink(item.thread_id), " · asked by ",
      el("strong", { text: item.requested_by || "unknown" }),
      item.requested_by && item.requested_by === state.me.user ? " (you)" : "", " · ", timeEl(item.created_at)),
  );
  const stage = stageText(item);
  if (stage) li.append(el("p", { class: "meta stage", text: stage }));
  const why = policyText(item);
  if (why) li.append(el("p", { class: "meta policy", text: why }));
  if (item.status === "pending") {
    const then = afterDeadline(item);
    li.append(el("p", { class: "meta deadline" }, "Deadline: ", countdown(item), then ? ` · then ${then}` : ""));
    // The rule for messages to a paused thread (README, "Messages to a paused thread").
    li.append(el("p", { class: "meta paused-rule", text:
      "While this waits, new messages to this thread are refused: decide it first." }));
  }
  // A policy's own description says why this needs a person; the generated default only
  // repeats the arguments shown below.
  if (item.description && item.kind !== "question" && item.kind !== "breakpoint"
      && !item.description.startsWith(`Approve ${item.tool} with args`)) {
    li.append(el("p", { class: "meta description", text: item.description }));
  }
  if (item.tool) {
    li.append(el("p", { class: "args-label", text: "Arguments" }), argFields(item.args || {}));
    li.append(...provenanceNotes(item));
  }
  if (item.status !== "pending") li.append(...outcome(item));
  if (interactive && item.status === "pending" && item.kind !== "breakpoint") li.append(reasonBox(item));
  li.append(conversationBox(item));
  if (interactive && item.status === "pending") {
    const viewer = item.viewer;
    if (viewer && viewer.can_decide === false) {
      // The server would refuse (same check as the decision route): say why instead of buttons.
      li.append(el("p", { class: "meta refusal", text: `You cannot decide this: ${viewer.reason}` }));
    } else {
      li.append(decisionControls(item));
      const allowed = item.allowed_decisions || [];
      if (allowed.includes("approve") && allowed.includes("reject")) {
        li.prepend(el("input", { type: "checkbox", class: "pick", "data-id": item.id,
          "aria-label": `Select ${title(item)} in thread ${item.thread_id} for a bulk decision`,
          on: { change: updateBulk } }));
      }
    }
  }
  return li;
}

// The arguments as labelled fields: short values inline, long text wrapped and folded.
const FOLD = 280;
function argFields(args) {
  const list = el("dl", { class: "args" });
  for (const [name, value] of Object.entries(args)) {
    const text = typeof value === "string" ? value : pretty(value);
    const dd = el("dd", { class: typeof value === "string" ? "text" : "json" });
    if (text.length > FOLD) {
      dd.append(el("span", { text: `${text.slice(0, FOLD)}…` }),
        el("details", {}, el("summary", { text: `Show all ${text.length} characters of ${name}` }),
          el("span", { class: "whole", text })));
    } else dd.textContent = text === "" ? "(empty)" : text;
    list.append(el("dt", { text: name }), dd);
  }
  if (!list.children.length) list.append(el("dt", { text: "(no arguments)" }), el("dd", { text: "" }));
  return list;
}

// Policy: which rule asked, its notes, who decided the earlier stages of this call.
function policyText(item) {
  const policy = item.policy;
  if (!policy) return null;
  const parts = [];
  if (policy.rule) parts.push(`Policy rule ${policy.rule}`);
  const earlier = (policy.earlier || []).filter((p) => p.actor);
  if (earlier.length) {
    parts.push(`earlier: ${earlier.map((p) => `${p.stage || "stage"} ${p.type === "approve" ? "approved" : p.type || "decided"} by ${p.actor}`).join(", ")}`);
  } else if ((item.stage_count || 1) > 1) parts.push("no earlier stage decided yet");
  if (policy.call_count > 1) parts.push(`call ${policy.call_index + 1} of ${policy.call_count} in this turn`);
  for (const note of policy.notes || []) parts.push(note);
  return parts.length ? parts.join(" · ") : null;
}

// What the deadline does, and to whom.
function afterDeadline(item) {
  if (!item.deadline) return null;
  if (item.on_timeout === "escalate") return `escalated to the ${item.escalate_to || "next"} role`;
  if (item.on_timeout === "approve") return "approved automatically";
  return item.kind === "question" ? "it lapses unanswered" : "rejected automatically";
}

// The reason the agent gave: the user's last message before the call, and the model's words.
function threadMessages(threadId) {
  if (!state.threads.has(threadId)) {
    state.threads.set(threadId, messagesOf(threadId).then((t) => t.messages, () => null));
  }
  return state.threads.get(threadId);
}

function reasonBox(item) {
  const box = el("div", { class: "reason" });
  threadMessages(item.thread_id).then((messages) => {
    if (!messages) return;
    let at = messages.length;
    if (item.tool_call_id) {
      const index = messages.findIndex((m) => ((m.data || {}).tool_calls || []).some((c) => c.id === item.tool_call_id));
      if (index >= 0) at = index;
    }
    const call = at < messages.length ? messages[at] : null;
    let asked = null;
    for (let i = Math.min(at, messages.length) - 1; i >= 0; i -= 1) {
      if (messages[i].type === "human") { asked = messageText(messages[i].data.content); break; }
    }
    const said = call ? messageText(call.data.content) : "";
    if (asked) box.append(el("p", { class: "meta said" }, el("strong", { text: "User asked: " }), el("span", { class: "quote", text: asked })));
    if (said) box.append(el("p", { class: "meta said" }, el("strong", { text: "Agent said: " }), el("span", { class: "quote", text: said })));
  });
  return box;
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
  const forms = {};
  const openers = {};
  let openKind = null;
  let opener = null;
  box.addEventListener("input", () => {
    const e = entry();
    if (e) e.dirty = true;
    if (openKind && forms[openKind]) saveDraft(item.id, openKind, formValues(forms[openKind].form));
  });

  const setBusy = (busy) => {
    for (const button of box.querySelectorAll("button")) button.disabled = busy;
    box.setAttribute("aria-busy", String(busy));
  };
  const send = async (decision, errorNode = error) => {
    errorNode.textContent = "";
    error.textContent = "";
    if (state.offline) {
      errorNode.textContent = "Not sent: the server cannot be reached. Decide again once it is back.";
      return;
    }
    setBusy(true);
    try {
      const decided = await api(`/approvals/${encodeURIComponent(item.id)}/decision`, { method: "POST", body: decision });
      dropDraft(item.id);
      announce(`${DONE_VERB[decided.status] || decided.status}: ${title(item)} in thread ${item.thread_id}`);
      removeCard(item.id, true);
      refreshSoon();
    } catch (exc) {
      setBusy(false);
      if (exc.status === 0) goOffline();
      errorNode.textContent = exc.message; // the form keeps what was typed
      if (exc.status === 409) {
        const e = entry();
        if (e) e.stale = true;
        const now = exc.body && exc.body.approval;
        for (const button of box.querySelectorAll("button")) button.disabled = true; // the text stays readable
        if (now) errorNode.textContent = `${exc.message} (now ${now.status}${now.decided_by ? ` by ${now.decided_by}` : ""})`;
        box.append(el("button", { type: "button", text: "Dismiss", on: { click: () => { dropDraft(item.id); removeCard(item.id, true); refreshSoon(); } } }));
      }
    }
  };
  const close = () => {
    dropDraft(item.id); // closed on purpose: nothing to bring back
    panel.replaceChildren();
    openKind = null;
    for (const button of bar.querySelectorAll("[aria-expanded]")) button.setAttribute("aria-expanded", "false");
    if (opener) opener.focus();
  };
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); close(); } });
  // restore: a saved draft's values, filled in without moving focus (the card just appeared).
  const toggle = async (kind, button, build, restore = null) => {
    if (openKind === kind && !restore) { close(); return; }
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
    if (restore) {
      fillForm(forms[kind].form, restore);
      const e = entry();
      if (e) e.dirty = true;
    } else forms[kind].focus();
  };
  const toggleButton = (kind, text, label, className, build) => {
    const button = el("button", { type: "button", class: className, text, "aria-label": label,
      "aria-expanded": "false", "aria-controls": panel.id });
    button.addEventListener("click", () => toggle(kind, button, build));
    openers[kind] = (values) => toggle(kind, button, build, values);
    return button;
  };
  const restoreDraft = () => {
    const draft = loadDraft(item.id);
    if (draft && openers[draft.kind] && draft.values) openers[draft.kind](draft.values);
    return box;
  };
  const policy = item.policy || {};
  // The calls of one turn sit side by side: each button names which call it decides.
  const which = policy.call_count > 1 ? ` (call ${(policy.call_index || 0) + 1} of ${policy.call_count})` : "";
  const where = `${title(item)} in thread ${item.thread_id}${which}`;

  if (item.kind === "question") {
    const choices = Array.isArray(item.choices) ? item.choices : null;
    if (choices && choices.length === 2 && choices.map((c) => String(c).toLowerCase()).join("/") === "yes/no") {
      for (const [index, label] of [[0, "Yes"], [1, "No"]]) {
        bar.append(el("button", { type: "button", class: index ? "" : "approve", text: label,
          "aria-label": `Answer ${label.toLowerCase()}: ${where}`, on: { click: () => send({ type: "answer", value: choices[index] }) } }));
      }
      return box;
    }
    const build = async () => {
      const detail = await api(`/approvals/${encodeURIComponent(item.id)}`);
      const choices = detail.payload && Array.isArray(detail.payload.choices) ? detail.payload.choices : null;
      const id = uid("answer");
      const input = choices
        ? el("select", { id, name: "answer" }, el("option", { value: "", text: "— choose an answer —" }),
          ...choices.map((c, i) => el("option", { value: String(i), text: String(c) })))
        : el("input", { id, name: "answer", type: "text", autocomplete: "off" });
      const formError = el("p", { class: "error", role: "alert" });
      const form = el("form", { class: "answer-form" }, el("label", { for: id, text: "Your answer" }), input,
        el("div", { class: "actions" }, el("button", { type: "submit", class: "approve", text: "Send answer" })), formError);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!input.value.trim()) { formError.textContent = choices ? "Choose an answer first." : "Write an answer first."; input.focus(); return; }
        send({ type: "answer", value: choices ? choices[Number(input.value)] : input.value }, formError);
      });
      return { form, focus: () => input.focus() };
    };
    bar.append(toggleButton("answer", "Answer…", `Answer ${where}`, "approve", build));
    return restoreDraft();
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
  return restoreDraft();
}

function textForm(label, buttonText, buttonClass, emptyMessage, submit, cancel) {
  const id = uid("text");
  const area = el("textarea", { id, name: "text", rows: "3", maxlength: "4000" });
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
  const cardSibling = (node, step) => {
    let sibling = node[step];
    while (sibling && !sibling.classList.contains("card")) sibling = sibling[step];
    return sibling;
  };
  const next = cardSibling(entry.li, "nextElementSibling") || cardSibling(entry.li, "previousElementSibling");
  entry.li.remove();
  state.cards.delete(id);
  markTurns();
  // Focus goes to the next card itself, never to one of its buttons: a second Enter must
  // not decide a request nobody has read yet.
  if (hadFocus) (next || $("inbox-title")).focus();
  $("inbox-empty").hidden = state.cards.size > 0;
  updateBulk();
}

// -- turns: the calls of one model turn, shown together ---------------------------------------
// Each call is its own request (own buttons, own decision); a heading names the turn and the
// cards of one turn stay next to each other, in the order the model made the calls.

function turnKey(item) {
  const policy = item.policy || {};
  return policy.turn_id && policy.call_count > 1 ? `${item.thread_id}\u0000${policy.turn_id}` : null;
}

function groupTurns(items) {
  const groups = new Map();
  for (const item of items) {
    const key = turnKey(item) || `item\u0000${item.id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  }
  return [...groups.values()].flatMap((members) =>
    [...members].sort((a, b) => ((a.policy || {}).call_index || 0) - ((b.policy || {}).call_index || 0)));
}

function markTurns() {
  if (state.placing) return;
  const list = $("inbox");
  for (const head of list.querySelectorAll(":scope > li.turn-head")) head.remove();
  let current = null;
  for (const li of [...list.querySelectorAll(":scope > li.card")]) {
    const entry = state.cards.get(li.dataset.id);
    const key = entry ? turnKey(entry.item) : null;
    li.classList.toggle("in-turn", key !== null);
    if (key === null) { current = null; continue; }
    if (current && current.key === key) { current.count += 1; li.removeAttribute("data-turn-first"); }
    else {
      current = { key, count: 1, head: el("li", { class: "turn-head" }) };
      list.insertBefore(current.head, li);
      li.setAttribute("data-turn-first", "");
      current.item = entry.item;
    }
    current.head.replaceChildren(turnHeading(current.item, current.count));
  }
}

function turnHeading(item, shown) {
  const total = (item.policy || {}).call_count;
  const waiting = shown === total ? `its ${total} calls` : `${shown} of its ${total} calls`;
  return el("p", { class: "turn-text" }, el("strong", { text: "One model turn" }), " in thread ",
    threadLink(item.thread_id), `: ${waiting} below. Each is decided on its own; an approved call runs at once.`);
}

// -- inbox ----------------------------------------------------------------------------------

const PAGE = 200;

function filterParams(form, extra = {}) {
  const params = new URLSearchParams({ limit: String(PAGE), count: "capped", ...extra });
  for (const [key, value] of new FormData(form)) if (String(value).trim()) params.set(key, String(value).trim());
  return params;
}

async function loadInbox() {
  const seq = ++state.inboxSeq;
  let data;
  try {
    data = await api(`/approvals?${filterParams($("filters"), { offset: String(state.offset) })}`);
  } catch (exc) {
    if (seq === state.inboxSeq) $("inbox-error").textContent = `Could not load the inbox: ${exc.message}`;
    return;
  }
  if (seq !== state.inboxSeq) return; // a newer load is under way
  if (!data.items.length && state.offset > 0 && data.total > 0) { // the page emptied: go back one
    state.offset = Math.max(0, state.offset - PAGE);
    loadInbox();
    return;
  }
  state.threads.clear(); // the cards' "why" lines are read afresh for new cards
  $("inbox-error").textContent = "";
  const status = $("f-status").value;
  const forMe = $("f-for-me").checked;
  $("inbox-title").textContent = forMe ? "Needs me" : status === "pending" ? "Pending requests" : `Requests: ${status}`;
  showPager(data);
  const items = groupTurns(sortItems(data.items));
  const list = $("inbox");
  for (const head of list.querySelectorAll(":scope > li.turn-head")) head.remove(); // placed again below
  state.placing = true; // cards move below: turn headings wait until they are in place
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
      || entry.item.stage_index !== item.stage_index
      || (entry.item.viewer || {}).can_decide !== (item.viewer || {}).can_decide);
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
  state.placing = false;
  markTurns();
  $("inbox-empty").hidden = state.cards.size > 0;
  $("inbox-empty").textContent = forMe ? "Nothing waits for you." : status === "pending" && !$("f-q").value.trim()
    ? "Nothing waits for a decision." : "No request matches these filters.";
  updateBulk();
}

function showPager(data) {
  state.total = data.total;
  const pager = $("pager");
  const last = state.offset + data.items.length;
  pager.hidden = state.offset === 0 && last >= data.total;
  $("pager-text").textContent = data.items.length
    ? `${state.offset + 1}–${last} of ${data.total}${data.total_is_exact ? "" : "+"}` : "";
  $("page-prev").disabled = state.offset === 0;
  $("page-next").disabled = last >= data.total && data.total_is_exact;
}

function turnPage(step) {
  state.offset = Math.max(0, state.offset + step * PAGE);
  loadInbox().then(() => $("inbox-title").focus());
}

// -- bulk decisions -------------------------------------------------------------------------

function picked() {
  return [...document.querySelectorAll("#inbox .pick:checked")]
    .map((box) => state.cards.get(box.dataset.id)).filter((entry) => entry && !entry.stale);
}

function updateBulk() {
  const count = picked().length;
  $("bulk").hidden = count === 0;
  $("bulk-count").textContent = `${count} selected`;
}

function openBulk(type) {
  const entries = picked();
  if (!entries.length) return;
  const dialog = $("bulk-dialog");
  $("bulk-title").textContent = `${type === "approve" ? "Approve" : "Reject"} ${entries.length} request${entries.length > 1 ? "s" : ""}?`;
  $("bulk-list").replaceChildren(...entries.map((e) => el("li", { text: `${e.item.summary || title(e.item)} — thread ${e.item.thread_id}` })));
  $("bulk-reason-box").hidden = type !== "reject";
  $("bulk-error").textContent = "";
  $("bulk-confirm").textContent = type === "approve" ? "Approve all" : "Reject all";
  $("bulk-confirm").className = type === "approve" ? "approve" : "reject";
  dialog.dataset.type = type;
  dialog.showModal();
}

async function confirmBulk(event) {
  event.preventDefault();
  const dialog = $("bulk-dialog");
  const type = dialog.dataset.type;
  const reason = $("bulk-reason").value.trim();
  if (type === "reject" && !reason) { $("bulk-error").textContent = "Give a reason: the agent and the audit trail see it."; $("bulk-reason").focus(); return; }
  if (state.offline) { $("bulk-error").textContent = "Not sent: the server cannot be reached."; return; }
  const entries = picked();
  $("bulk-confirm").disabled = true;
  const failed = [];
  for (const entry of entries) {
    const body = type === "approve" ? { type: "approve" } : { type: "reject", reason };
    try {
      await api(`/approvals/${encodeURIComponent(entry.item.id)}/decision`, { method: "POST", body });
      dropDraft(entry.item.id);
      removeCard(entry.item.id, false);
    } catch (exc) {
      failed.push(`${entry.item.summary || title(entry.item)}: ${exc.message}`);
    }
  }
  $("bulk-confirm").disabled = false;
  refreshSoon();
  const done = entries.length - failed.length;
  announce(`${type === "approve" ? "Approved" : "Rejected"} ${done} of ${entries.length}`);
  if (failed.length) { $("bulk-error").textContent = `Not decided: ${failed.join("; ")}`; return; }
  $("bulk-reason").value = "";
  dialog.close();
  const first = $("inbox").querySelector(".card");
  (first || $("inbox-title")).focus();
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
    el("button", { type: "button", text: "Dismiss", on: { click: () => { dropDraft(entry.item.id); removeCard(entry.item.id, true); } } }),
  );
}

async function loadCount() {
  try {
    const data = await api("/approvals?status=pending&limit=1&count=capped");
    const shown = data.total_is_exact ? String(data.total) : `${data.total}+`;
    $("pending-count").textContent = shown;
    $("pending-count").hidden = !data.total; // no badge on an empty inbox
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

// -- the thread list: one tab per LangGraph thread status ------------------------------------

const THREAD_STATUS = {
  interrupted: { label: "interrupted", help: "Threads you may read whose latest run waits for a person." },
  busy: { label: "running", help: "Threads you may read whose latest run is queued or running." },
  idle: { label: "idle", help: "Threads you may read whose latest run finished, or that never ran." },
  error: { label: "error", help: "Threads you may read whose latest run failed." },
};
const THREAD_PAGE = 50;

function threadRow(thread) {
  const headId = uid("thread");
  const status = THREAD_STATUS[thread.status] ? thread.status : "idle";
  const waiting = thread.status === "interrupted" && thread.pending > 0
    ? `${thread.pending} ${thread.pending === 1 ? "request waits" : "requests wait"}` : null;
  return el("li", { class: "card thread-row", "data-thread": thread.id, "data-status": status, "aria-labelledby": headId },
    el("h3", { id: headId }, threadLink(thread.id), " ",
      el("span", { class: `badge ${status}`, text: THREAD_STATUS[status].label })),
    el("p", { class: "meta" }, "Last update ", timeEl(thread.updated_at || thread.created_at),
      waiting ? " · " : "", waiting ? el("strong", { class: "waiting", text: waiting }) : null,
      thread.owner ? ` · started by ${thread.owner}${thread.owner === state.me.user ? " (you)" : ""}` : ""));
}

async function loadThreads({ more = false } = {}) {
  const seq = ++state.threadsSeq;
  const status = state.threadStatus;
  const offset = more ? state.threadsShown : 0;
  const limit = more ? THREAD_PAGE : Math.min(500, Math.max(THREAD_PAGE, state.threadsShown)); // a refresh keeps what was shown
  try {
    const rows = await api(`/threads?status=${encodeURIComponent(status)}&limit=${limit}&offset=${offset}`);
    if (seq !== state.threadsSeq) return; // another tab, or a newer load
    const items = rows.map(threadRow);
    if (more) $("threads").append(...items);
    else $("threads").replaceChildren(...items);
    state.threadsShown = offset + rows.length;
    $("threads-empty").hidden = state.threadsShown > 0;
    $("threads-more").hidden = rows.length < limit;
    $("threads-error").textContent = "";
  } catch (exc) {
    if (seq === state.threadsSeq) $("threads-error").textContent = `Could not load the threads: ${exc.message}`;
  }
}

function selectThreadTab(tab, { focus = false } = {}) {
  for (const other of document.querySelectorAll("#thread-tabs [role=tab]")) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1; // one tab stop; the arrow keys move between tabs
  }
  if (focus) tab.focus();
  $("threads-panel").setAttribute("aria-labelledby", tab.id);
  if (state.threadStatus === tab.dataset.status && $("threads").children.length) return;
  state.threadStatus = tab.dataset.status;
  state.threadsShown = 0;
  $("threads-help").textContent = THREAD_STATUS[state.threadStatus].help;
  $("threads").replaceChildren();
  $("threads-empty").hidden = true;
  $("threads-more").hidden = true;
  loadThreads();
}

function onThreadTabKey(event) {
  const tabs = [...document.querySelectorAll("#thread-tabs [role=tab]")];
  const index = tabs.indexOf(event.target);
  if (index < 0) return;
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  selectThreadTab(tabs[(next + tabs.length) % tabs.length], { focus: true });
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
    const waiting = exc.status === 409 && exc.body && exc.body.approval;
    if (waiting) { // a paused thread takes no new message: say what it waits for, and where
      $("chat-error").replaceChildren(`${exc.message}. The message was not sent: `,
        el("a", { href: "#/inbox", text: "decide the waiting request in the inbox" }), " first.");
    } else $("chat-error").textContent = exc.message;
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

// -- keyboard shortcuts ---------------------------------------------------------------------
// j / k move between cards, a approve, r reject, e edit, x select, ? lists them. Never while
// typing in a field, and never with a modifier key (browser and screen-reader keys stay theirs).

function inboxCards() {
  return [...document.querySelectorAll("#inbox > li.card")];
}

function currentCard() {
  const active = document.activeElement;
  return active && active.closest ? active.closest("#inbox > li.card") : null;
}

function pressIn(cardNode, prefix) {
  if (!cardNode) return false;
  const button = [...cardNode.querySelectorAll(".decide .actions button")]
    .find((b) => (b.getAttribute("aria-label") || "").startsWith(prefix) && !b.disabled);
  if (!button) {
    announce("That decision is not offered on this card.");
    return false;
  }
  button.click();
  return true;
}

function onShortcut(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || state.view !== "inbox") return;
  const target = event.target;
  if (target && (target.closest("input, textarea, select, [contenteditable], dialog") )) return;
  const cards = inboxCards();
  const current = currentCard();
  const move = (step) => {
    if (!cards.length) return;
    const index = current ? cards.indexOf(current) : -1;
    const next = cards[Math.min(cards.length - 1, Math.max(0, index < 0 ? 0 : index + step))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  };
  switch (event.key) {
    case "j": move(1); break;
    case "k": move(-1); break;
    case "a": pressIn(current, "Approve "); break;
    case "r": pressIn(current, "Reject "); break;
    case "e": pressIn(current, "Edit the arguments"); break;
    case "x": {
      const pick = current && current.querySelector(".pick");
      if (pick) { pick.checked = !pick.checked; updateBulk(); }
      break;
    }
    case "?": $("shortcuts").showModal(); break;
    default: return;
  }
  event.preventDefault();
}

// -- the server's reachability and the session ------------------------------------------------

let probeTimer = null;
function goOffline() {
  if (state.offline) return;
  state.offline = true;
  $("offline").hidden = false;
  document.body.classList.add("offline");
  for (const button of document.querySelectorAll(".decide button, #bulk button")) {
    if (!button.disabled) { button.disabled = true; button.dataset.offline = "1"; }
  }
  clearTimeout(probeTimer);
  probeTimer = setTimeout(probe, 1500);
}

async function probe() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    if (response.ok) { backOnline(); return; }
  } catch {
    // still unreachable
  }
  probeTimer = setTimeout(probe, 2000);
}

function backOnline() {
  if (!state.offline) return;
  state.offline = false;
  $("offline").hidden = true;
  document.body.classList.remove("offline");
  for (const button of document.querySelectorAll("[data-offline]")) {
    button.disabled = false;
    delete button.dataset.offline;
  }
  // Errors that only said "cannot reach the server" are over now.
  for (const node of document.querySelectorAll(".error")) {
    if (node.textContent.includes("cannot reach the server") || node.textContent.includes("server cannot be reached")) node.textContent = "";
  }
  $("inbox-error").textContent = "";
  api("/auth/me").then(() => refreshSoon(), () => {});
}

// -- views and live updates ------------------------------------------------------------------

function route() {
  const match = /^#\/(inbox|history|chat|threads|thread)(?:\/(.+))?$/.exec(location.hash);
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
  document.title = (pending !== "0" && !$("pending-count").hidden ? `(${pending}) ` : "") + { inbox: "Approvals", history: "History · approvals", threads: "Threads · approvals", chat: "New conversation · approvals",
    thread: `Thread ${arg} · approvals` }[view];
  if (view === "inbox") loadInbox();
  if (view === "history") loadHistory();
  if (view === "threads") loadThreads();
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
    if (state.view === "threads") loadThreads();
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
    backOnline();
    if (lost) refreshSoon(); // catch up on what happened while disconnected
    lost = false;
  });
  source.addEventListener("error", () => {
    live.textContent = "Reconnecting…";
    live.className = "live off";
    // a 401 here sends the page to /login (drafts kept); no answer at all: decisions wait
    if (!lost) api("/auth/me").catch((exc) => { if (exc.status === 0) goOffline(); });
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
      if (state.view === "threads") refreshSoon(); // a thread changed state: it may change tabs
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
  const fromStart = () => { state.offset = 0; loadInbox(); };
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); fromStart(); });
  $("filters").addEventListener("reset", () => setTimeout(fromStart, 0));
  $("f-status").addEventListener("change", fromStart);
  $("f-for-me").addEventListener("change", fromStart);
  $("page-prev").addEventListener("click", () => turnPage(-1));
  $("page-next").addEventListener("click", () => turnPage(1));
  $("bulk-approve").addEventListener("click", () => openBulk("approve"));
  $("bulk-reject").addEventListener("click", () => openBulk("reject"));
  $("bulk-form").addEventListener("submit", confirmBulk);
  $("bulk-cancel").addEventListener("click", () => $("bulk-dialog").close());
  $("shortcuts-close").addEventListener("click", () => $("shortcuts").close());
  $("shortcuts-open").addEventListener("click", () => $("shortcuts").showModal());
  document.addEventListener("keydown", onShortcut);
  sweepDrafts();
  $("history-filters").addEventListener("submit", (event) => { event.preventDefault(); loadHistory(); });
  $("h-status").addEventListener("change", loadHistory);
  $("thread-tabs").addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) selectThreadTab(tab);
  });
  $("thread-tabs").addEventListener("keydown", onThreadTabKey);
  $("threads-more").addEventListener("click", () => loadThreads({ more: true }));
  $("chat-form").addEventListener("submit", startChat);
  $("chat-thread").value = `web-${Math.random().toString(36).slice(2, 8)}`;
  $("logout").addEventListener("click", async () => {
    try {
      await signOut();
    } catch (exc) {
      $("inbox-error").textContent = `Sign-out failed: ${exc.message}`;
    }
  });
  window.addEventListener("hashchange", route);
  listen();
  loadCount();
  route();
  returnToCard();
}

// After a sign-in that an expired session forced, come back to the card being worked on.
async function returnToCard() {
  let back = null;
  try {
    back = JSON.parse(sessionStorage.getItem("hitl-return") || "null");
    sessionStorage.removeItem("hitl-return");
  } catch {
    return;
  }
  if (!back || !back.card) return;
  for (let i = 0; i < 50 && !state.cards.has(back.card); i += 1) await new Promise((r) => setTimeout(r, 100));
  const entry = state.cards.get(back.card);
  if (entry) { entry.li.focus(); entry.li.scrollIntoView({ block: "nearest" }); }
}

main();
