// The page's only way to the server: same-origin fetch with the session cookie, the CSRF token
// on every change, and errors turned into readable messages (FastAPI's `detail`).

let csrfToken = null;
// Set once the page is on its way to /login: two navigations would abort the first one.
let leaving = false;

// Sign out: end the session on the server, then leave once. Requests answered 401 meanwhile
// (the live stream notices the session is gone) do not navigate a second time.
export async function signOut() {
  leaving = true;
  try {
    await api("/auth/logout", { method: "POST" });
  } catch (exc) {
    if (exc.status !== 401) { // 401: the session had ended already, which is what was asked
      leaving = false;
      throw exc;
    }
  }
  location.replace("/login");
}

export function setCsrf(token) {
  csrfToken = token || null;
}

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

export function describe(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const where = (d.loc || []).filter((part) => part !== "body").join(".");
      return where ? `${where}: ${d.msg}` : String(d.msg);
    }).join("; ");
  }
  if (status === 413) return "that is too large for the server";
  if (status === 429) return "too many decisions at once: wait a moment and try again";
  return `the server answered ${status}`;
}

// The session ended (expired, revoked, signed out elsewhere): remember where this person was,
// so the sign-in page can say why it appeared and send them back to the same card. What they
// typed is already in localStorage (drafts.js).
function sessionEnded() {
  if (leaving) return; // signing out: the live stream's 401 must not start a second navigation
  leaving = true;
  try {
    const active = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("li.card[data-id]") : null;
    const opened = document.querySelector("li.card[data-id] .panel:not(:empty)");
    const card = active ? active.dataset.id : opened ? opened.closest("li.card").dataset.id : null;
    sessionStorage.setItem("hitl-return", JSON.stringify({ hash: location.hash, card }));
  } catch {
    // no storage: the sign-in page still appears, without the way back
  }
  location.replace("/login");
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    if (exc && exc.name === "AbortError") throw exc;
    throw new ApiError(0, "cannot reach the server: check your connection and try again", null);
  }
  if (response.status === 401) {
    sessionEnded();
    throw new ApiError(401, "your session ended: sign in again", null);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 300) }; }
  if (!response.ok) throw new ApiError(response.status, describe(response.status, data), data);
  return data;
}
