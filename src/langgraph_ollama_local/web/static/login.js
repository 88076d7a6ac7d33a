// Exchange an API token (pasted into the form) or a one-time login code (from a `#code=` link,
// `hitl tokens link`) for a server-side session cookie. Links never carry the token itself:
// browser history keeps links, and a code is spent once and lives minutes.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const field = document.getElementById("token");
const button = document.getElementById("sign-in");

async function signIn(credential) {
  error.textContent = "";
  button.disabled = true;
  try {
    const response = await fetch("/auth/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(credential),
    });
    if (response.ok) {
      location.replace(`/${returnHash()}`);
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = typeof body.detail === "string" ? body.detail
      : response.status === 422 ? "paste the whole token" : `sign-in failed (${response.status})`;
  } catch {
    error.textContent = "cannot reach the server: check your connection and try again";
  } finally {
    button.disabled = false;
  }
  field.focus();
}

// Where an expired session left off (api.js): the same view; app.js then focuses the card.
function returnHash() {
  try {
    const back = JSON.parse(sessionStorage.getItem("hitl-return") || "null");
    return back && typeof back.hash === "string" && /^#\/[\w/%.-]*$/.test(back.hash) ? back.hash : "";
  } catch {
    return "";
  }
}

function sessionNotice() {
  let back = null;
  try { back = JSON.parse(sessionStorage.getItem("hitl-return") || "null"); } catch { back = null; }
  if (back) {
    document.getElementById("login-notice").textContent =
      "Your session ended. Sign in again: you come back to where you were, and what you typed is kept.";
  }
}
sessionNotice();

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!field.value.trim()) {
    error.textContent = "paste your API token first";
    field.focus();
    return;
  }
  signIn({ token: field.value.trim() });
});

// A link's `#code=`: read at load, and again when a link is pasted into this tab while it is
// already on /login (only the fragment changes then: no new page load, a hashchange).
function useFragment() {
  if (!location.hash) return;
  const fragment = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", location.pathname + location.search); // drop the fragment at once
  const code = fragment.get("code");
  if (code) {
    signIn({ code: code.trim() });
  } else if (fragment.get("token")) {
    error.textContent = "links no longer carry tokens: paste the token below, or ask for a one-time " +
      "login link (hitl tokens link ID)";
  }
}
window.addEventListener("hashchange", useFragment);
useFragment();
