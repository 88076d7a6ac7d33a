// What a person typed into a card (a reject reason, edited fields), kept in localStorage by
// approval id: a reload, a lost connection or an expired session never loses it. A draft goes
// when its decision is stored or the card is dismissed, and after a week in any case.
const PREFIX = "hitl-draft:";
const WEEK_MS = 7 * 24 * 3600 * 1000;

function store() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: drafts live only as long as the page
  }
}

export function loadDraft(id) {
  const s = store();
  if (!s) return null;
  try {
    const draft = JSON.parse(s.getItem(PREFIX + id) || "null");
    if (!draft || typeof draft !== "object" || Date.now() - (draft.at || 0) > WEEK_MS) return null;
    return draft;
  } catch {
    return null;
  }
}

// kind: which form ("reject", "respond", "edit", "answer"); values: { name: value | boolean }.
export function saveDraft(id, kind, values) {
  const s = store();
  if (!s) return;
  try {
    s.setItem(PREFIX + id, JSON.stringify({ kind, values, at: Date.now() }));
  } catch {
    // quota: the draft stays in the page only
  }
}

export function dropDraft(id) {
  const s = store();
  if (s) s.removeItem(PREFIX + id);
}

export function formValues(form) {
  const values = {};
  for (const input of form.querySelectorAll("input[name], textarea[name], select[name]")) {
    values[input.name] = input.type === "checkbox" ? input.checked : input.value;
  }
  return values;
}

export function fillForm(form, values) {
  for (const input of form.querySelectorAll("input[name], textarea[name], select[name]")) {
    if (!Object.hasOwn(values, input.name)) continue;
    if (input.type === "checkbox") input.checked = Boolean(values[input.name]);
    else input.value = String(values[input.name]);
  }
  form.dispatchEvent(new Event("input", { bubbles: true })); // the edit form redraws its diff
}

// Sweep drafts older than a week (approvals long decided elsewhere).
export function sweepDrafts() {
  const s = store();
  if (!s) return;
  for (let i = s.length - 1; i >= 0; i -= 1) {
    const key = s.key(i);
    if (key && key.startsWith(PREFIX) && !loadDraft(key.slice(PREFIX.length))) s.removeItem(key);
  }
}
