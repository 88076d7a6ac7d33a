// Exchange an API token for a session cookie; a token in the URL fragment signs in at once.
// The token never stays in the page: it is posted once, and the address bar loses it first.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const field = document.getElementById("token");
const button = document.getElementById("sign-in");

async function signIn(token) {
  error.textContent = "";
  button.disabled = true;
  try {
    const response = await fetch("/auth/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: token.trim() }),
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
  signIn(field.value);
});

const fragment = new URLSearchParams(location.hash.slice(1));
const fromLink = fragment.get("token");
if (fromLink) {
  history.replaceState(null, "", location.pathname + location.search); // drop #token=… at once
  signIn(fromLink);
}
