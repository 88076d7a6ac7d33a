// Exchange an API token for a session cookie; a token in the URL fragment signs in at once.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

async function signIn(token) {
  error.textContent = "";
  const response = await fetch("/auth/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: token.trim() }),
  });
  if (response.ok) {
    location.replace("/");
    return;
  }
  const body = await response.json().catch(() => ({}));
  error.textContent = typeof body.detail === "string" ? body.detail : `sign-in failed (${response.status})`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("token").value);
});

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  const token = fragment.get("token");
  history.replaceState(null, "", "/login"); // the token never stays in the address bar
  signIn(token);
}
