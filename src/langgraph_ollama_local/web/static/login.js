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
      location.replace("/");
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

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!field.value.trim()) {
    error.textContent = "paste your API token first";
    field.focus();
    return;
  }
  signIn({ token: field.value.trim() });
});

const fragment = new URLSearchParams(location.hash.slice(1));
if (location.hash) {
  history.replaceState(null, "", location.pathname + location.search); // drop the fragment at once
}
const code = fragment.get("code");
if (code) {
  signIn({ code: code.trim() });
} else if (fragment.get("token")) {
  error.textContent = "links no longer carry tokens: paste the token below, or ask for a one-time " +
    "login link (hitl tokens link ID)";
}
