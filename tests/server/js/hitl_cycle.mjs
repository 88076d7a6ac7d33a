// The HITL cycle with LangGraph's JS client (@langchain/langgraph-sdk) against hitl serve.
// Env: HITL_URL, ALICE / BOB / CAROL tokens. Prints one JSON line of what it saw.
import { Client } from "@langchain/langgraph-sdk";

const url = process.env.HITL_URL;
const as = (who) => new Client({ apiUrl: url, apiKey: process.env[who] });
const alice = as("ALICE"), bob = as("BOB"), carol = as("CAROL");
const ask = { messages: [{ role: "user", content: "Send email to js@example.com" }] };

async function streamed(client, threadId, payload) {
  const parts = [];
  for await (const part of client.runs.stream(threadId, "agent", payload)) parts.push(part);
  return parts;
}

async function status(promise) {
  try { await promise; return 200; } catch (err) { return err.status ?? err.response?.status ?? String(err); }
}

const out = {};
const assistants = await alice.assistants.search();
out.assistant = assistants[0]?.graph_id;
const thread = (await alice.threads.create({ metadata: { client: "js" } })).thread_id;
const first = await streamed(alice, thread, { input: ask, streamMode: ["values", "updates"] });
out.firstEvents = first.map((p) => p.event);
out.interrupt = first.find((p) => p.event === "updates" && p.data.__interrupt__)?.data.__interrupt__[0];
out.valuesInterrupt = first.filter((p) => p.event === "values").at(-1)?.data.__interrupt__?.[0]?.id;
out.interrupted = (await bob.threads.search({ status: "interrupted", limit: 1000 })).map((t) => t.thread_id).includes(thread);
out.aliceResume = await status(alice.runs.wait(thread, "agent", { command: { resume: { type: "approve" } } }));
const second = await streamed(bob, thread, { command: { resume: { [out.interrupt.id]: { type: "approve" } } }, streamMode: "updates" });
out.toolResult = second.find((p) => p.event === "updates" && p.data.tools)?.data.tools.messages[0].content;
out.lastEvent = second.at(-1)?.event;
out.statusAfter = (await alice.threads.get(thread)).status;

// edit and reject through resume commands
const t2 = (await alice.threads.create()).thread_id;
await alice.runs.wait(t2, "agent", { input: ask });
const edited = await bob.runs.wait(t2, "agent", { command: { resume: { decisions: [
  { type: "edit", edited_action: { name: "send_email", args: { to: "edited@example.com", subject: "s", body: "b" } } }] } } });
out.edited = edited.messages.at(-1).content;
const t3 = (await alice.threads.create()).thread_id;
await alice.runs.wait(t3, "agent", { input: ask });
await bob.runs.wait(t3, "agent", { command: { resume: { type: "reject", message: "not today" } } });
out.rejected = (await bob.threads.getState(t3)).values.messages.filter((m) => m.type === "tool").map((m) => m.content);

// carol (requester + approver) may not approve her own request; nothing runs
const t4 = (await carol.threads.create()).thread_id;
await carol.runs.wait(t4, "agent", { input: ask });
out.ownResume = await status(carol.runs.create(t4, "agent", { command: { resume: { type: "approve" } } }));
out.ownRuns = (await carol.runs.list(t4)).length;

// a breakpoint given per run
const t5 = (await alice.threads.create()).thread_id;
await alice.runs.wait(t5, "agent", { input: ask, interruptBefore: ["tools"] });
out.breakpointNext = (await alice.threads.getState(t5)).next;

console.log(JSON.stringify(out));
