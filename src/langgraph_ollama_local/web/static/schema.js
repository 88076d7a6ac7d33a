// The edit form: fields generated from the tool's args JSON schema, checked before sending
// (required fields, types, enums, bounds), and a diff of the edited args against the original.
import { el, pretty, uid } from "./dom.js";

// The args schema inside a request's response_schema: oneOf[type.const == "edit"].edited_action.args.
export function argsSchema(detail) {
  const variants = (detail && detail.response_schema && detail.response_schema.oneOf) || [];
  const edit = variants.find((v) => v && v.properties && v.properties.type && v.properties.type.const === "edit");
  const action = edit && edit.properties.edited_action;
  return (action && action.properties && action.properties.args) || null;
}

function resolve(spec, root, depth = 0) {
  if (!spec || typeof spec !== "object" || depth > 10) return {};
  if (typeof spec.$ref === "string") {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(spec.$ref);
    const target = match && root[match[1]] ? root[match[1]][match[2]] : null;
    const { $ref, ...rest } = spec;
    return { ...resolve(target, root, depth + 1), ...rest };
  }
  if (Array.isArray(spec.allOf) && spec.allOf.length === 1) {
    const { allOf, ...rest } = spec;
    return { ...resolve(allOf[0], root, depth + 1), ...rest };
  }
  return spec;
}

function guessType(value) {
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return "json";
}

// One field per property of the schema, plus any argument the schema does not list.
export function fieldsOf(schema, args) {
  const root = schema && typeof schema === "object" ? schema : {};
  const properties = root.properties || {};
  const required = new Set(Array.isArray(root.required) ? root.required : []);
  const names = [...new Set([...Object.keys(properties), ...Object.keys(args || {})])];
  return names.map((name) => {
    let spec = resolve(properties[name], root);
    let nullable = false;
    const union = spec.anyOf || spec.oneOf;
    if (Array.isArray(union)) {
      const options = union.map((s) => resolve(s, root));
      nullable = options.some((s) => s.type === "null");
      const rest = options.filter((s) => s.type !== "null");
      if (rest.length === 1) spec = { ...rest[0], title: spec.title, description: spec.description, default: spec.default };
      else spec = { ...spec, type: undefined };
    }
    let type = Array.isArray(spec.type) ? spec.type.filter((t) => t !== "null") : spec.type;
    if (Array.isArray(spec.type) && spec.type.includes("null")) nullable = true;
    if (Array.isArray(type)) type = type.length === 1 ? type[0] : undefined;
    const choices = Array.isArray(spec.enum) ? spec.enum : "const" in spec ? [spec.const] : null;
    let kind;
    if (choices) kind = "enum";
    else if (!(name in properties)) kind = guessType(args[name]);
    else if (type === "string" || type === "integer" || type === "number" || type === "boolean") kind = type;
    else kind = "json";
    return { name, spec, kind, choices, nullable, required: required.has(name), jsonType: type };
  });
}

function longText(field, value) {
  const text = typeof value === "string" ? value : "";
  return text.length > 60 || text.includes("\n") || (field.spec.maxLength || 0) > 200
    || ["body", "content", "message", "text", "description", "query", "sql", "code"].includes(field.name);
}

function control(field, value, id, helpId) {
  const common = { id, name: field.name, "aria-describedby": helpId };
  if (field.kind === "boolean") return el("input", { ...common, type: "checkbox", checked: value === true });
  if (field.kind === "enum") {
    const select = el("select", common);
    if (!field.required || field.nullable || value === undefined) select.append(el("option", { value: "", text: "— none —" }));
    field.choices.forEach((choice, index) => {
      select.append(el("option", { value: String(index), text: typeof choice === "string" ? choice : JSON.stringify(choice) }));
    });
    const index = field.choices.findIndex((choice) => JSON.stringify(choice) === JSON.stringify(value));
    select.value = index >= 0 ? String(index) : "";
    return select;
  }
  if (field.kind === "integer" || field.kind === "number") {
    const input = el("input", { ...common, type: "text", inputmode: field.kind === "integer" ? "numeric" : "decimal", autocomplete: "off" });
    input.value = value === undefined || value === null ? "" : String(value);
    return input;
  }
  if (field.kind === "string") {
    const input = longText(field, value) ? el("textarea", { ...common, rows: "5" }) : el("input", { ...common, type: "text", autocomplete: "off" });
    input.value = typeof value === "string" ? value : "";
    return input;
  }
  const area = el("textarea", { ...common, rows: "4", class: "mono", spellcheck: "false" });
  area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  return area;
}

function jsonTypeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

// Read one field: { value } when it is valid, { omit: true } when left out, or { error }.
export function readField(field, input) {
  const { name, spec } = field;
  if (field.kind === "boolean") return { value: input.checked };
  if (field.kind === "enum") {
    if (input.value === "") {
      if (field.nullable) return { value: null };
      return field.required ? { error: `${name} is required: pick one` } : { omit: true };
    }
    return { value: field.choices[Number(input.value)] };
  }
  const raw = input.value;
  const empty = field.kind === "string" ? raw === "" : raw.trim() === "";
  if (empty) {
    if (field.required && !field.nullable) return { error: `${name} is required` };
    return field.nullable && field.required ? { value: null } : { omit: true };
  }
  if (field.kind === "integer" || field.kind === "number") {
    const text = raw.trim();
    const number = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(number)) return { error: `${name} must be a number` };
    if (field.kind === "integer" && !Number.isInteger(number)) return { error: `${name} must be a whole number` };
    if (typeof spec.minimum === "number" && number < spec.minimum) return { error: `${name} must be at least ${spec.minimum}` };
    if (typeof spec.maximum === "number" && number > spec.maximum) return { error: `${name} must be at most ${spec.maximum}` };
    if (typeof spec.exclusiveMinimum === "number" && number <= spec.exclusiveMinimum) return { error: `${name} must be more than ${spec.exclusiveMinimum}` };
    if (typeof spec.exclusiveMaximum === "number" && number >= spec.exclusiveMaximum) return { error: `${name} must be less than ${spec.exclusiveMaximum}` };
    return { value: number };
  }
  if (field.kind === "string") {
    const length = [...raw].length;
    if (typeof spec.minLength === "number" && length < spec.minLength) return { error: `${name} needs at least ${spec.minLength} characters` };
    if (typeof spec.maxLength === "number" && length > spec.maxLength) return { error: `${name} allows at most ${spec.maxLength} characters` };
    if (typeof spec.pattern === "string") {
      let pattern = null;
      try { pattern = new RegExp(spec.pattern, "u"); } catch { pattern = null; } // a Python-only regex: the server checks it
      if (pattern && !pattern.test(raw)) return { error: `${name} does not have the expected form (${spec.pattern})` };
    }
    if (spec.format === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(raw.trim())) return { error: `${name} must be an email address` };
    return { value: raw };
  }
  let value;
  try { value = JSON.parse(raw); } catch { return { error: `${name} must be valid JSON` }; }
  const want = field.jsonType;
  if (want && want !== jsonTypeOf(value) && !(want === "number" && jsonTypeOf(value) === "integer")) {
    return { error: `${name} must be JSON of type ${want}` };
  }
  return { value };
}

// Added, removed and changed arguments, in field order.
export function diffArgs(before, after) {
  const names = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const changes = [];
  for (const name of names) {
    const had = Object.hasOwn(before || {}, name), has = Object.hasOwn(after || {}, name);
    if (had && has && JSON.stringify(before[name]) === JSON.stringify(after[name])) continue;
    changes.push({ name, change: !had ? "added" : !has ? "removed" : "changed", before: before[name], after: after[name] });
  }
  return changes;
}

// <del>/<ins> take no accessible name (aria-label on them is ignored, and most screen readers
// announce neither), so each side says in words which it is: visually hidden text inside it.
function diffSide(tag, side, value) {
  return el(tag, {}, el("span", { class: "visually-hidden", text: `${side}: ` }), el("span", { class: "value", text: pretty(value) }));
}

export function renderDiff(changes) {
  if (!changes.length) return [el("p", { class: "muted", text: "No changes yet: the arguments are as the agent wrote them." })];
  return changes.map(({ name, change, before, after }) => el("div", { class: "diff-row", "data-name": name },
    el("p", { class: "diff-name", text: `${name} (${change})` }),
    change === "added" ? null : diffSide("del", "before", before),
    change === "removed" ? null : diffSide("ins", "after", after),
  ));
}

// Build the form. onSubmit(args) is called only with args that passed every check.
export function editForm(item, schema, onSubmit, onCancel) {
  const fields = fieldsOf(schema, item.args || {});
  const form = el("form", { class: "edit-form", novalidate: true });
  const inputs = new Map();
  const fieldErrors = new Map();
  const fieldset = el("fieldset", {}, el("legend", { text: `Arguments of ${item.tool}` }));
  for (const field of fields) {
    const id = uid("arg");
    const helpId = `${id}-help`;
    const errorId = `${id}-error`;
    const input = control(field, (item.args || {})[field.name], id, `${helpId} ${errorId}`);
    const title = field.spec.title && field.spec.title.toLowerCase() !== field.name.replace(/_/g, " ").toLowerCase()
      ? ` — ${field.spec.title}` : "";
    const label = el("label", { for: id, text: `${field.name}${field.required ? " (required)" : ""}` });
    const kindText = { enum: "", string: "", boolean: "", json: `JSON${field.jsonType ? ` ${field.jsonType}` : ""}`,
      integer: "a whole number", number: "a number" }[field.kind];
    const helpText = [`${kindText}${title}`.replace(/^ — /, ""), field.spec.description].filter(Boolean).join(" · ");
    const help = el("p", { id: helpId, class: "help", text: helpText, hidden: !helpText });
    const error = el("p", { id: errorId, class: "field-error" });
    inputs.set(field.name, input);
    fieldErrors.set(field.name, error);
    const wrap = el("div", { class: field.kind === "boolean" ? "field checkbox" : "field" });
    if (field.kind === "boolean") wrap.append(input, label, help, error);
    else wrap.append(label, input, help, error);
    fieldset.append(wrap);
  }
  const diffId = uid("diff");
  const diff = el("div", { id: diffId, class: "diff", "aria-live": "polite" });
  const summary = el("p", { class: "error", role: "alert" });
  const submit = el("button", { type: "submit", class: "approve", text: "Approve with edits", "aria-describedby": diffId });
  const cancel = el("button", { type: "button", text: "Cancel edit", on: { click: onCancel } });
  form.append(fieldset, el("h4", { text: "Changes against the original" }), diff, summary, el("div", { class: "actions" }, submit, cancel));

  const read = (mark) => {
    const args = {};
    const problems = [];
    for (const field of fields) {
      const input = inputs.get(field.name);
      const result = readField(field, input);
      if (mark) {
        fieldErrors.get(field.name).textContent = result.error || "";
        if (result.error) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
      if (result.error) problems.push(result.error);
      else if (!result.omit) args[field.name] = result.value;
    }
    return { args, problems };
  };
  let tried = false; // after a refused submit, the field errors follow the typing
  const refresh = () => {
    const { args, problems } = read(tried);
    if (tried && !problems.length) summary.textContent = "";
    diff.replaceChildren(...renderDiff(diffArgs(item.args || {}, args)));
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    tried = true;
    const { args, problems } = read(true);
    if (problems.length) {
      summary.textContent = `Not sent: ${problems.join("; ")}`;
      const first = fields.find((f) => inputs.get(f.name).getAttribute("aria-invalid") === "true");
      if (first) inputs.get(first.name).focus();
      return;
    }
    summary.textContent = "";
    onSubmit(args, summary, submit);
  });
  refresh();
  return { form, focus: () => { const first = form.querySelector("input, select, textarea"); if (first) first.focus(); } };
}
