// DOM helpers. Text goes in with textContent only: nothing here ever parses a string as HTML.

export const $ = (id) => document.getElementById(id);

// el("p", { class: "meta", text: "…", on: { click } }, child, "text child", …)
// Attribute values and string children are inserted as text, never as markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value ?? "";
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (key === "hidden") node.hidden = Boolean(value);
    else if (key === "checked" || key === "disabled" || key === "required") node[key] = Boolean(value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child); // a string child becomes a Text node
  }
  return node;
}

export function pretty(value) {
  if (value === undefined) return "—";
  if (typeof value === "string") return JSON.stringify(value);
  return JSON.stringify(value, null, 2);
}

export function parseTime(iso) {
  if (!iso) return null;
  // The API sends aware ISO datetimes; read a naive one as UTC rather than local time.
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? null : ms;
}

export function remaining(deadline, now = Date.now()) {
  const at = parseTime(deadline);
  if (at === null) return "no deadline";
  const ms = at - now;
  if (ms <= 0) return "deadline passed";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${h}h left`;
  return `${h ? `${h}h ` : ""}${m}m ${String(sec).padStart(2, "0")}s left`;
}

export function timeEl(iso, prefix = "") {
  const ms = parseTime(iso);
  if (ms === null) return el("span", { text: `${prefix}?` });
  return el("time", { datetime: iso, text: `${prefix}${new Date(ms).toLocaleString()}` });
}

// The text of a LangChain message's content: a string, or a list of content blocks.
export function messageText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((block) => (typeof block === "string" ? block
      : block && typeof block.text === "string" ? block.text : JSON.stringify(block))).join("");
  }
  return content === undefined || content === null ? "" : JSON.stringify(content);
}

let idCounter = 0;
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
