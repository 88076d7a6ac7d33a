"""The web inbox in Debian's Chromium (Playwright), against real `hitl serve` processes.

Each test starts its own server (tests/server/support.py `launch`) with a graph from
web_graph.py (scripted test-double models) and signs in through the login page, exactly as a
person would: a pasted token or a one-time `#code=` link, a session cookie, CSRF on every change.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.support import STRICT_POLICY, Service, hitl, issue, launch, wait_until

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).parent
GRAPH = HERE / "web_graph.py"
ARTIFACTS = HERE / "artifacts"
README_SHOT = HERE.parents[1] / "docs" / "images" / "inbox.png"
AXE = HERE / "js" / "node_modules" / "axe-core" / "axe.min.js"
USERS = {"rev": ("admin", "approver", "finance", "requester"), "ann": ("approver",)}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield instance
        instance.close()


def start(tmp_path: Path, graph: str = "graph", policy: str | None = None) -> Service:
    return launch(tmp_path, graph=f"{GRAPH}:{graph}", policy=policy, users=USERS)


@pytest.fixture
def svc(tmp_path) -> Iterator[Service]:
    service = start(tmp_path)
    yield service
    service.stop()


class Page:
    """A signed-in tab, with the page errors and console errors it produced."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.console.append(msg.text) if msg.type == "error" else None)


def paste_token(page, svc: Service, user: str = "rev") -> None:
    """Sign in as a person does with a token: pasted into the form (links carry codes only)."""
    page.goto(f"{svc.base}/login")
    page.get_by_label("API token").fill(svc.tokens[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{svc.base}/")


def login_link(svc: Service, user: str) -> str:
    listed = json.loads(hitl("tokens", "list", "--db", svc.db, "--json", home=svc.home).stdout)
    token_id = next(t["id"] for t in listed if t["user"] == user and t["active"])
    return hitl("tokens", "link", token_id, "--base-url", svc.base, "--db", svc.db, home=svc.home).stdout.strip()


def sign_in(browser, svc: Service, user: str = "rev", width: int = 1280, height: int = 900) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    tab = Page(page)
    paste_token(page, svc, user)
    page.locator("#live", has_text="Live").wait_for()
    page.tab = tab  # type: ignore[attr-defined]
    page.evaluate("window.__loadedOnce = true")  # gone if the page ever reloads
    return page


def assert_clean(page) -> None:
    assert page.evaluate("window.__loadedOnce") is True, "the page reloaded"
    assert page.tab.errors == [], page.tab.errors
    csp = [m for m in page.tab.console if "Content Security Policy" in m]
    assert csp == [], f"something tried to run injected code: {csp}"


def ask(svc: Service, thread: str, message: str, user: str = "rev") -> None:
    response = svc.client(user).post(f"/threads/{thread}/runs", json={"message": message})
    assert response.status_code == 202, response.text


def recipients(svc: Service) -> list[str]:
    return sorted(str(message_from_bytes(p.read_bytes())["To"]) for p in svc.outbox())


def status_of(svc: Service, thread: str) -> str:
    return svc.client("rev").get("/approvals", params={"thread_id": thread, "status": "all"}).json()["items"][0]["status"]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def axe_scan(page) -> dict[str, list[Any]]:
    """axe-core's WCAG 2.x A/AA scan of the page as it is now (scripts/install.sh installs it):
    `violations` as `rule: target | target …`, and `incomplete` — what axe could not decide and
    leaves to a person ("needs review") — one dict per element: rule, target, tag, key, message.

    Evaluated through the DevTools protocol, which the page's CSP does not govern: nothing
    is added to the page's own scripts."""
    assert AXE.exists(), f"{AXE} is missing: run scripts/install.sh (npm install --prefix tests/web/js)"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("""axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})
        .then(r => ({
          violations: r.violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(' | ')}`),
          incomplete: r.incomplete.flatMap(v => v.nodes.map(n => {
            const check = n.any[0] || n.all[0] || n.none[0] || {};
            const node = document.querySelector(n.target.join(' '));
            return { rule: v.id, target: n.target.join(' '), tag: node ? node.tagName.toLowerCase() : null,
                     key: (check.data || {}).messageKey || null, message: check.message || '' };
          })),
        }))""")
    return dict(result)


def axe_violations(page) -> list[str]:
    """The scan's violations; `axe_needs_review` has what it could not decide."""
    return list(axe_scan(page)["violations"])


# A <textarea> is always "needs review" for color-contrast in axe-core 4.10 ("partially obscured
# by another element" with nothing over it: dequelabs/axe-core#4947, fixed after 4.10.2). This
# test checks such a field itself: nothing covers it, and its text meets 4.5:1 on its background.
MEASURE_FIELD = r"""e => {
  e.scrollIntoView({ block: 'center' });
  const r = e.getBoundingClientRect();
  const points = [[r.left + 3, r.top + 3], [r.right - 3, r.top + 3], [r.left + 3, r.bottom - 3],
                  [r.right - 3, r.bottom - 3], [r.left + r.width / 2, r.top + r.height / 2]];
  const covered = points.some(([x, y]) => document.elementFromPoint(x, y) !== e);
  const rgba = (c) => c.match(/[\d.]+/g).map(Number);
  const style = getComputedStyle(e);
  const [fg, bg] = [rgba(style.color), rgba(style.backgroundColor)];
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return { covered, opaque: (fg[3] ?? 1) === 1 && (bg[3] ?? 1) === 1, ratio: (hi + 0.05) / (lo + 0.05) };
}"""


def axe_needs_review(page) -> list[dict[str, Any]]:
    """axe's "needs review" results left after this test checked those it can check itself
    (MEASURE_FIELD); each one checked is asserted to pass, so none is silently dropped."""
    left = []
    for item in axe_scan(page)["incomplete"]:
        if item["rule"] == "color-contrast" and item["tag"] == "textarea" and item["key"] == "elmPartiallyObscured":
            measured = page.locator(item["target"]).evaluate(MEASURE_FIELD)
            assert measured == {"covered": False, "opaque": True, "ratio": measured["ratio"]}, (item, measured)
            assert measured["ratio"] >= 4.5, (item, measured)
            continue
        left.append(item)
    return left


def diff_value(scope, name: str, side: str) -> str:
    """The value an edit diff shows for argument `name`, before or after, found as a screen
    reader meets it: the <del>/<ins> says in words which side it is (they take no aria-label)."""
    tag = {"before": "del", "after": "ins"}[side]
    row = scope.locator(".diff-row").filter(has=scope.page.locator(".diff-name", has_text=re.compile(
        rf"^{re.escape(name)} \((changed|added|removed)\)$")))
    assert row.count() == 1, f"{row.count()} diff rows for {name}"
    shown = row.locator(tag)
    assert shown.locator(".visually-hidden").text_content() == f"{side}: "
    read = shown.aria_snapshot()  # what the accessibility tree holds: the role, then the words
    assert read.startswith(f"- {'deletion' if side == 'before' else 'insertion'}") and f"{side}: " in read, read
    return str(shown.locator(".value").inner_text())


# -- sign-in ---------------------------------------------------------------------------------


def test_sign_in_by_link_and_form_and_sign_out(browser, svc):
    assert httpx.get(f"{svc.base}/", follow_redirects=False).headers["location"] == "/login"
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{svc.base}/login")
    page.get_by_label("API token").fill("hitl_wrong_" + "x" * 40)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="token").wait_for()  # the server's 401 detail, inline
    page.get_by_label("API token").fill(svc.tokens["ann"])
    page.get_by_label("API token").press("Enter")
    page.wait_for_url(f"{svc.base}/")
    page.locator("#me", has_text="ann (approver)").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{svc.base}/login")
    assert page.context.request.get(f"{svc.base}/auth/me").status == 401
    # a one-time link signs in, leaves the address bar at once, and never works twice
    link = login_link(svc, "rev")
    assert "#code=" in link and "hitl_" not in link
    page = browser.new_context().new_page()
    page.goto(link)
    page.wait_for_url(f"{svc.base}/")
    page.locator("#me", has_text="rev").wait_for()
    assert "code" not in page.evaluate("location.href")
    again = browser.new_context().new_page()
    again.goto(link)
    again.get_by_role("alert").filter(has_text="used, expired or unknown").wait_for()
    assert "code" not in again.evaluate("location.href")
    # an old-style #token= link is not used, and leaves the address bar too
    old = browser.new_context().new_page()
    old.goto(f"{svc.base}/login#token={svc.tokens['rev']}")
    old.get_by_role("alert").filter(has_text="no longer carry tokens").wait_for()
    assert "token=" not in old.evaluate("location.href") and old.url.endswith("/login")


# -- the inbox -------------------------------------------------------------------------------


def test_a_new_request_appears_live_with_its_context_then_approve(browser, svc):
    page = sign_in(browser, svc)
    page.locator("#inbox-empty", has_text="Nothing waits").wait_for()
    ask(svc, "live1", "Send email to ann@example.com please", user="rev")
    card = page.locator("#inbox .card", has_text="ann@example.com")
    card.wait_for()  # arrived over SSE, no reload (checked in assert_clean)
    text = card.inner_text()
    assert card.locator("h3 .summary").inner_text() == 'Email to ann@example.com — "Hello"'  # first, one line
    assert "send_email" in text and "asked by rev" in text
    assert "Stage approval (1 of 1) · needs role approver" in text
    fields = card.locator("dl.args")  # labelled fields, not JSON
    assert fields.locator("dt").all_inner_texts()[:2] == ["to", "subject"]
    assert fields.locator("dd").first.inner_text() == "ann@example.com"
    card.locator(".reason", has_text="User asked: Send email to ann@example.com please").wait_for()  # inline
    assert "then rejected automatically" in card.locator(".meta.deadline").inner_text()
    provenance = card.locator(".meta.provenance").inner_text()
    assert provenance == "Where the arguments came from — to: from the user · subject, body: written by the model"
    assert card.locator(".provenance.flag").count() == 0
    card.locator(".countdown", has_text="left").wait_for()  # a 1 h deadline, counting down
    assert card.get_by_role("button", name="Edit the arguments of send_email in thread live1").is_visible()
    card.get_by_text("Conversation that led here").click()
    card.locator(".messages li.human", has_text="Send email to ann@example.com please").wait_for()
    assert card.locator(".call.current").count() == 1  # the tool call this request is about
    said = card.locator(".call.current").aria_snapshot()  # a <pre> takes no aria-label: its words say what it is
    assert "The tool call this request is about: send_email(" in said and "this request →" not in said, said
    assert page.locator("#pending-count").inner_text() == "1"
    assert axe_violations(page) == []
    assert axe_needs_review(page) == []
    page.screenshot(path=str(ARTIFACTS / "inbox-live.png"))
    if os.environ.get("HITL_README_SCREENSHOT") == "1":  # refresh the README's picture on request,
        page.screenshot(path=str(README_SHOT))  # so `make test` never leaves the work tree dirty

    card.get_by_role("button", name="Approve send_email in thread live1").click()
    card.wait_for(state="detached")
    page.locator("#announce", has_text="Approved: send_email in thread live1").wait_for()
    assert wait_until(lambda: recipients(svc) == ["ann@example.com"])
    page.locator("#pending-count").wait_for(state="hidden")  # no badge on an empty inbox

    page.get_by_role("link", name="History").click()
    done = page.locator("#history .card", has_text="ann@example.com")
    done.wait_for()
    assert "approved" in done.inner_text() and "decided by rev" in done.inner_text()
    done.get_by_role("link", name="Open thread live1").click()
    page.locator("#thread-messages li", has_text="Done.").wait_for()  # the agent went on
    page.locator("#thread-audit li", has_text="approval.decided").wait_for()
    assert page.locator("#thread-requests .card", has_text="approved").count() == 1
    page.go_back()
    page.locator("#view-history:not([hidden])").wait_for()
    assert_clean(page)


def test_a_recipient_the_user_never_wrote_is_flagged_on_the_card(browser, tmp_path):
    service = start(tmp_path, "flagged")
    try:
        page = sign_in(browser, service)
        ask(service, "flag1", "Good morning!")
        card = page.locator("#inbox .card", has_text="someone@invented.example")
        card.wait_for()
        flag = card.locator(".provenance.flag")
        assert flag.inner_text() == (
            "⚠ to: someone@invented.example appears nowhere in the conversation (written by the model)"
        )
        item = service.client("rev").get("/approvals", params={"thread_id": "flag1"}).json()["items"][0]
        assert item["provenance"]["flags"][0]["values"] == ["someone@invented.example"]
        assert_clean(page)
    finally:
        service.stop()


def test_soonest_deadline_first_and_filters(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "money", "Please transfer the invoice")  # no deadline
    ask(svc, "mail", "Send email to bo@example.com")  # 1 h
    ask(svc, "wx", "What is the weather in Paris?")  # 60 s: soonest, though asked last
    cards = page.locator("#inbox .card")
    assert wait_until(lambda: cards.count() == 3)
    page.wait_for_timeout(400)
    order = [cards.nth(i).locator("h3 .tool").inner_text() for i in range(3)]
    assert order == ["get_weather", "send_email", "transfer"]
    assert "no deadline" in cards.nth(2).inner_text() and "needs role finance" in cards.nth(2).inner_text()
    filters = page.locator("#filters")
    filters.get_by_label("Tool").fill("send_email")
    page.get_by_role("button", name="Apply filters").click()
    assert wait_until(lambda: cards.count() == 1)
    assert cards.first.locator("h3 .tool").inner_text() == "send_email"
    page.get_by_role("button", name="Clear").click()
    assert wait_until(lambda: cards.count() == 3)
    filters.get_by_label("Required role").fill("finance")
    filters.get_by_label("Required role").press("Enter")
    assert wait_until(lambda: cards.count() == 1)
    assert cards.first.locator("h3 .tool").inner_text() == "transfer"
    page.get_by_role("button", name="Clear").click()
    filters.get_by_label("Thread", exact=True).fill("wx")
    filters.get_by_label("Thread", exact=True).press("Enter")
    assert wait_until(lambda: cards.count() == 1)
    page.get_by_role("button", name="Clear").click()
    assert wait_until(lambda: cards.count() == 3)
    cards.filter(has_text="Paris").get_by_role("button", name="Approve get_weather in thread wx").click()
    assert wait_until(lambda: cards.count() == 2)
    page.get_by_label("Status").select_option("approved")
    assert wait_until(lambda: cards.count() == 1)
    assert "approved" in cards.first.inner_text() and cards.first.get_by_role("button", name="Approve").count() == 0
    assert_clean(page)


def test_edit_form_from_the_schema_validates_and_shows_the_diff(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "edit1", "Send email to bob@example.com")
    card = page.locator("#inbox .card", has_text="bob@example.com")
    card.get_by_role("button", name="Edit the arguments").click()
    to = card.get_by_label("to (required)")
    assert to.evaluate("e => e === document.activeElement")  # focus moves into the form
    assert card.get_by_label("body (required)").evaluate("e => e.tagName") == "TEXTAREA"
    to.fill("")
    card.get_by_role("button", name="Approve with edits").click()
    card.get_by_text("Not sent: to is required").wait_for()  # checked in the page, nothing sent
    assert to.get_attribute("aria-invalid") == "true"
    assert status_of(svc, "edit1") == "pending"
    to.fill("carol@example.com")
    assert to.get_attribute("aria-invalid") is None and card.get_by_text("Not sent").count() == 0  # fixed: errors go
    card.get_by_label("subject (required)").fill("Quarterly numbers")
    diff = card.locator(".diff")
    assert diff_value(diff, "to", "before") == '"bob@example.com"'
    assert diff_value(diff, "to", "after") == '"carol@example.com"'
    assert diff_value(diff, "subject", "after") == '"Quarterly numbers"'
    assert diff.locator(".diff-row").count() == 2  # body unchanged: not in the diff
    shot(page, "decision.png")
    card.get_by_role("button", name="Approve with edits").click()
    card.wait_for(state="detached")
    assert wait_until(lambda: recipients(svc) == ["carol@example.com"])
    page.get_by_role("link", name="History").click()
    done = page.locator("#history .card", has_text="carol@example.com")
    done.wait_for()
    assert "edited" in done.inner_text()
    assert diff_value(done, "to", "before") == '"bob@example.com"'
    assert_clean(page)


def test_typed_edit_form_checks_types_and_enums(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "pay", "Please transfer the invoice")
    card = page.locator("#inbox .card", has_text="transfer")
    card.get_by_role("button", name="Edit the arguments").click()
    amount = card.get_by_label("amount (required)")
    currency = card.get_by_label("currency (required)")
    urgent = card.get_by_label("urgent")
    note = card.get_by_label("note", exact=True)
    assert currency.evaluate("e => e.tagName") == "SELECT" and urgent.get_attribute("type") == "checkbox"
    assert amount.input_value() == "120" and note.input_value() == "Please transfer the invoice"
    submit = card.get_by_role("button", name="Approve with edits")
    for bad, message in [("12.5", "amount must be a whole number"), ("lots", "amount must be a number"),
                         ("", "amount is required")]:
        amount.fill(bad)
        submit.click()
        card.locator(".field-error", has_text=message).wait_for()
    assert status_of(svc, "pay") == "pending"
    amount.fill("99")
    currency.select_option(label="USD")
    urgent.check()
    note.fill("")  # optional: left out of the args
    assert diff_value(card, "amount", "after") == "99"
    assert diff_value(card, "currency", "after") == '"USD"'
    assert diff_value(card, "urgent", "after") == "true"
    assert "note (removed)" in card.locator(".diff").inner_text()
    submit.click()
    card.wait_for(state="detached")
    item = svc.client("rev").get("/approvals", params={"thread_id": "pay", "status": "all"}).json()["items"][0]
    assert item["status"] == "edited"
    assert item["edited_args"] == {"amount": 99, "currency": "USD", "urgent": True}
    assert_clean(page)


def test_reject_with_a_reason_and_respond_with_a_message(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "rej", "Send email to dan@example.com")
    card = page.locator("#inbox .card", has_text="dan@example.com")
    card.get_by_role("button", name="Reject send_email").click()
    card.get_by_role("button", name="Reject", exact=True).click()
    card.get_by_text("Give a reason").wait_for()  # a reason is asked for before sending
    card.get_by_label("Reason for rejecting").fill("wrong recipient")
    card.get_by_role("button", name="Reject", exact=True).click()
    card.wait_for(state="detached")

    ask(svc, "resp", "Send email to eve@example.com")
    card = page.locator("#inbox .card", has_text="eve@example.com")
    card.get_by_role("button", name="Respond instead").click()
    card.get_by_label("Message to the agent instead of running the tool").fill("Ask me again tomorrow.")
    card.get_by_role("button", name="Send response").click()
    card.wait_for(state="detached")

    page.get_by_role("link", name="History").click()
    rejected = page.locator("#history .card", has_text="dan@example.com")
    rejected.wait_for()
    assert "rejected" in rejected.inner_text() and "reason: wrong recipient" in rejected.inner_text()
    responded = page.locator("#history .card", has_text="eve@example.com")
    assert "responded" in responded.inner_text() and "Ask me again tomorrow." in responded.inner_text()
    page.get_by_label("Outcome").select_option("rejected")
    assert wait_until(lambda: page.locator("#history .card").count() == 1)
    time.sleep(0.3)
    assert recipients(svc) == []
    assert_clean(page)


def test_typed_input_is_kept_when_filtered_out_or_decided_elsewhere(browser, svc):
    page = sign_in(browser, svc, user="rev")
    ask(svc, "own", "Send email to own@example.com", user="rev")
    card = page.locator("#inbox .card", has_text="own@example.com")
    card.get_by_role("button", name="Reject send_email").click()
    card.get_by_label("Reason for rejecting").fill("my carefully written reason")
    card.get_by_role("button", name="Respond instead").click()  # switch forms and back: still typed
    card.get_by_role("button", name="Reject send_email").click()
    assert card.get_by_label("Reason for rejecting").input_value() == "my carefully written reason"

    # Filtering it out while typing does not lose the text either (it is still pending).
    page.locator("#filters").get_by_label("Tool").fill("get_weather")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_timeout(500)
    assert card.get_by_label("Reason for rejecting").input_value() == "my carefully written reason"
    assert card.get_by_text("no longer pending").count() == 0
    page.get_by_role("button", name="Clear").click()

    # Someone else decides while this person is typing: the card and the text stay, flagged.
    svc.client("ann").post(f"/approvals/{card.get_attribute('data-id')}/decision", json={"type": "approve"})
    card.get_by_text("no longer pending: now approved by ann").wait_for()
    assert card.get_by_label("Reason for rejecting").input_value() == "my carefully written reason"
    card.get_by_role("button", name="Dismiss").click()
    card.wait_for(state="detached")
    assert_clean(page)


def test_honest_buttons_needs_me_and_stage_context(browser, tmp_path):
    """`viewer` comes from the decision route's own check: the requester, a stage-1 approver on
    stage 2 and a person without the role see why, not buttons; the right person sees buttons."""
    users = {"rev": ("requester", "approver"), "ann": ("approver",), "fin": ("approver", "finance"),
             "cfo": ("finance",)}
    svc = launch(tmp_path, graph=f"{GRAPH}:two_stage", policy=STRICT_POLICY, users=users)
    try:
        ask(svc, "two", "Send email to board@example.com", user="rev")

        def item(user: str, **params: Any) -> dict[str, Any]:
            data = svc.client(user).get("/approvals", params={"thread_id": "two", **params}).json()
            return data["items"][0] if data.get("items") else {}  # no items: a 403 until it is hers

        assert wait_until(lambda: item("rev").get("stage") == "manager")
        own = item("rev")["viewer"]
        assert own["can_decide"] is False and "cannot decide their own request" in own["reason"]
        assert item("ann")["viewer"] == {"can_decide": True, "reason": None}
        detail = svc.client("ann").get(f"/approvals/{item('ann')['id']}").json()  # one item: the same field
        assert detail["viewer"]["can_decide"] is True and detail["summary"] == 'Email to board@example.com — "Hello"'
        assert svc.client("cfo").get(f"/approvals/{item('ann')['id']}").status_code == 403  # not hers to read yet
        # Needs me: only what the caller may decide now
        assert [i["thread_id"] for i in svc.client("ann").get("/approvals", params={"for_me": "true"}).json()["items"]] == ["two"]
        assert svc.client("rev").get("/approvals", params={"for_me": "true"}).json()["total"] == 0

        page = sign_in(browser, svc, user="rev")
        card = page.locator("#inbox .card", has_text="board@example.com")
        card.locator(".refusal", has_text="cannot decide their own request").wait_for()
        assert card.get_by_role("button").count() == 0  # nothing that would be refused
        assert "then escalated to the director role" in card.locator(".meta.deadline").inner_text()
        assert "no earlier stage decided yet" in card.locator(".meta.policy").inner_text()
        page.get_by_label("Needs me").check()
        page.locator("#inbox-empty", has_text="Nothing waits for you.").wait_for()
        assert page.locator("#inbox .card").count() == 0
        assert_clean(page)

        first = item("fin")
        assert svc.client("fin").post(f"/approvals/{first['id']}/decision", json={"type": "approve"}).status_code == 200
        assert wait_until(lambda: item("cfo").get("stage") == "finance")
        stage2 = item("fin")["viewer"]
        assert stage2["can_decide"] is False and "already approved an earlier stage" in stage2["reason"]
        assert "'finance' role" in item("rev")["viewer"]["reason"]  # the role is checked first
        assert item("cfo")["viewer"]["can_decide"] is True
        assert svc.client("fin").get("/approvals", params={"for_me": "true"}).json()["total"] == 0
        assert svc.client("cfo").get("/approvals", params={"for_me": "true"}).json()["total"] == 1

        fin = sign_in(browser, svc, user="fin", width=375, height=740)
        card = fin.locator("#inbox .card", has_text="board@example.com")
        card.locator(".refusal", has_text="already approved an earlier stage").wait_for()
        assert card.get_by_role("button", name="Approve").count() == 0
        assert "earlier: manager approved by fin" in card.locator(".meta.policy").inner_text()
        cfo = sign_in(browser, svc, user="cfo")
        card = cfo.locator("#inbox .card", has_text="board@example.com")
        card.get_by_role("button", name="Approve send_email in thread two").click()
        assert wait_until(lambda: recipients(svc) == ["board@example.com"])
        assert_clean(cfo)
    finally:
        svc.stop()


def test_triage_by_keyboard_search_and_bulk(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "t-one", "Send email to one@example.com")
    ask(svc, "t-two", "Send email to two@example.com")
    ask(svc, "t-wx", "What is the weather in Paris?")
    cards = page.locator("#inbox .card")
    assert wait_until(lambda: cards.count() == 3)
    filters = page.locator("#filters")
    filters.get_by_label("Search").fill("TWO@example")  # a substring of the summary, any case
    filters.get_by_label("Search").press("Enter")
    assert wait_until(lambda: cards.count() == 1)
    assert "two@example.com" in cards.first.inner_text()
    filters.get_by_label("Search").fill("t-wx")  # the thread
    filters.get_by_label("Search").press("Enter")
    assert wait_until(lambda: cards.count() == 1 and "Paris" in cards.first.inner_text())
    page.get_by_role("button", name="Clear").click()
    assert wait_until(lambda: cards.count() == 3)

    def focused() -> str | None:
        return page.evaluate("document.activeElement.dataset ? document.activeElement.dataset.id || null : null")

    ids = [cards.nth(i).get_attribute("data-id") for i in range(3)]  # weather first (soonest deadline)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    assert focused() == ids[0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert focused() == ids[1]
    page.keyboard.press("?")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for(state="hidden")
    page.keyboard.press("x")  # select two cards for one decision
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.locator("#bulk-count", has_text="2 selected").wait_for()
    page.get_by_role("button", name="Approve selected").click()
    dialog = page.get_by_role("dialog", name="Approve 2 requests?")
    listed = dialog.locator("#bulk-list li").all_inner_texts()
    assert listed == ['Email to one@example.com — "Hello" — thread t-one', 'Email to two@example.com — "Hello" — thread t-two']
    dialog.get_by_role("button", name="Approve all").click()
    assert wait_until(lambda: recipients(svc) == ["one@example.com", "two@example.com"])
    assert wait_until(lambda: cards.count() == 1)
    page.keyboard.press("j")
    page.keyboard.press("r")  # reject asks for a reason first, focus in the field
    reason = cards.first.get_by_label("Reason for rejecting")
    assert wait_until(lambda: reason.evaluate("e => e === document.activeElement"))
    page.keyboard.type("not today")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert wait_until(lambda: status_of(svc, "t-wx") == "rejected")

    # Past the first 200: pages (a backlog recorded straight into the service's database).
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, backlog(svc.db, 201)).result()
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#pager-text", has_text="1–200 of 201").wait_for()
    assert cards.count() == 200
    page.get_by_role("button", name="Next page").click()
    page.locator("#pager-text", has_text="201–201 of 201").wait_for()
    assert wait_until(lambda: cards.count() == 1)
    assert page.get_by_role("button", name="Next page").is_disabled()
    assert_clean(page)


async def backlog(db: str, count: int) -> None:
    from langgraph_ollama_local.store.approval_store import ApprovalStore, NewRequest

    store = await ApprovalStore.open(db)
    try:
        await store.ensure_thread("backlog", actor="rev")
        await store.record_requests("backlog", None, [
            NewRequest(kind="tool_approval", interrupt_id=f"backlog-{i}", tool="get_weather", args={"location": f"P{i}"},
                       summary=f"get_weather(location=P{i})", required_role="approver",
                       allowed_decisions=("approve", "reject"), requested_by="rev")
            for i in range(count)])
    finally:
        await store.close()


def test_nothing_typed_is_lost(browser, svc):
    """Drafts survive a reload, a lost server and an expired session; the way back leads to the
    same card; a login link pasted into a tab already on /login signs in."""
    page = sign_in(browser, svc, user="ann")
    ask(svc, "keep", "Send email to keep@example.com", user="rev")
    ask(svc, "edit", "Send email to edit@example.com", user="rev")
    keep = page.locator("#inbox .card", has_text="keep@example.com")
    edit = page.locator("#inbox .card", has_text="edit@example.com")
    keep.get_by_role("button", name="Reject send_email").click()
    keep.get_by_label("Reason for rejecting").fill("a reason I do not want to type twice")
    edit.get_by_role("button", name="Edit the arguments").click()
    edit.get_by_label("to (required)").fill("fixed@example.com")

    page.reload()
    assert keep.get_by_label("Reason for rejecting").input_value() == "a reason I do not want to type twice"
    assert edit.get_by_label("to (required)").input_value() == "fixed@example.com"
    assert diff_value(edit, "to", "after") == '"fixed@example.com"'  # the diff is redrawn
    edit.get_by_role("button", name="Approve with edits").click()
    assert wait_until(lambda: recipients(svc) == ["fixed@example.com"])

    # The server cannot be reached: the page says so and decisions wait until it is back.
    page.context.route("**/*", lambda route: route.abort())
    keep.get_by_role("button", name="Reject", exact=True).click()
    page.locator("#offline", has_text="cannot be reached").wait_for()
    assert keep.get_by_role("button", name="Reject", exact=True).is_disabled()
    assert keep.get_by_label("Reason for rejecting").input_value() == "a reason I do not want to type twice"
    page.context.unroute("**/*")
    page.locator("#offline").wait_for(state="hidden")
    assert keep.get_by_role("button", name="Reject", exact=True).is_enabled()
    assert keep.locator(".error", has_text="cannot").count() == 0  # the outage's error went with it
    assert status_of(svc, "keep") == "pending"

    # The session ends: the sign-in page says why, and signing in leads back to the card.
    listed = json.loads(hitl("tokens", "list", "--db", svc.db, "--json", home=svc.home).stdout)
    hitl("tokens", "revoke", next(t["id"] for t in listed if t["user"] == "ann"), "--db", svc.db, home=svc.home)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(f"{svc.base}/login")
    page.locator("#login-notice", has_text="what you typed is kept").wait_for()
    page.get_by_label("API token").fill(issue(svc.db, svc.home, "ann", "approver"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{svc.base}/")
    assert wait_until(lambda: page.evaluate("document.activeElement.dataset.id || null") == keep.get_attribute("data-id"))
    assert keep.get_by_label("Reason for rejecting").input_value() == "a reason I do not want to type twice"
    keep.get_by_role("button", name="Reject", exact=True).click()
    assert wait_until(lambda: status_of(svc, "keep") == "rejected")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hitl-draft:')).length") == 0

    # A login link pasted into a tab that is already on /login (only the fragment changes).
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{svc.base}/login")
    page.goto(login_link(svc, "ann"))
    page.wait_for_url(f"{svc.base}/")
    page.locator("#me", has_text="ann").wait_for()
    assert page.tab.errors == []


def test_an_already_decided_request_says_so_when_no_live_update_came(browser, svc):
    context = browser.new_context()
    context.route("**/events", lambda route: route.abort())  # no live stream: the list goes stale
    page = context.new_page()
    paste_token(page, svc)
    ask(svc, "late", "Send email to slow@example.com")
    assert wait_until(lambda: svc.client("rev").get("/approvals", params={"thread_id": "late"}).json()["total"] == 1)
    page.get_by_role("button", name="Apply filters").click()  # no live update: load by hand
    card = page.locator("#inbox .card", has_text="slow@example.com")
    card.wait_for()
    svc.client("ann").post(f"/approvals/{card.get_attribute('data-id')}/decision", json={"type": "approve"})
    card.get_by_role("button", name="Approve send_email in thread late").click()
    card.get_by_role("alert").filter(has_text="now approved by ann").wait_for()  # the 409, inline
    assert card.get_by_role("button", name="Approve send_email in thread late").is_disabled()
    card.get_by_role("button", name="Dismiss").click()
    card.wait_for(state="detached")


def test_a_revoked_token_ends_the_session(browser, svc):
    page = sign_in(browser, svc, user="ann")
    listed = json.loads(hitl("tokens", "list", "--db", svc.db, "--json", home=svc.home).stdout)
    hitl("tokens", "revoke", next(t["id"] for t in listed if t["user"] == "ann"), "--db", svc.db, home=svc.home)
    page.get_by_role("link", name="History").click()  # the next request is refused: back to sign-in
    page.wait_for_url(f"{svc.base}/login")
    page.get_by_label("API token").wait_for()
    page.locator("#login-notice", has_text="Your session ended").wait_for()  # says so


def test_an_expired_request_shows_as_expired(browser, tmp_path):
    svc = start(tmp_path, graph="timed")  # send_email: a 2 s stage timeout
    try:
        page = sign_in(browser, svc)
        ask(svc, "slow", "Send email to late@example.com")
        card = page.locator("#inbox .card", has_text="late@example.com")
        card.locator(".countdown", has_text="left").wait_for()  # a live countdown
        card.wait_for(state="detached", timeout=20_000)  # the sweeper expired it; the page saw it live
        page.get_by_role("link", name="History").click()
        expired = page.locator("#history .card", has_text="late@example.com")
        expired.wait_for()
        assert "expired" in expired.inner_text() and "decided by system:deadline" in expired.inner_text()
        page.get_by_role("link", name="Inbox").click()
        page.get_by_label("Status").select_option("expired")
        page.locator("#inbox .card[data-status=expired]", has_text="late@example.com").wait_for()
        assert recipients(svc) == []
        assert_clean(page)
    finally:
        svc.stop()


def test_model_written_markup_is_shown_as_text_and_never_run(browser, svc):
    page = sign_in(browser, svc)
    hostile = ('Send email to x@example.com <script>window.pwned=1</script>'
               '<img src=x onerror="window.pwned=2"><svg onload="window.pwned=3">')
    ask(svc, "xss", hostile)
    card = page.locator("#inbox .card", has_text="x@example.com")
    card.wait_for()
    args = card.locator("dl.args").inner_text()
    assert "<script>window.pwned=1</script>" in args and '<img src=x onerror="window.pwned=2">' in args
    card.get_by_text("Conversation that led here").click()
    card.locator(".messages li", has_text="<img src=x onerror=").first.wait_for()
    card.get_by_role("button", name="Edit the arguments").click()
    body = card.get_by_label("body (required)")
    assert "<script>window.pwned=1</script>" in body.input_value()
    body.fill(body.input_value() + '<img src=y onerror="window.pwned=4">')
    assert "window.pwned=4" in card.locator(".diff").inner_text()
    page.get_by_role("link", name="Open thread xss").first.click()
    page.locator("#thread-messages li.human", has_text="<script>window.pwned=1</script>").wait_for()
    page.wait_for_timeout(500)
    assert page.evaluate("window.pwned") is None
    assert page.locator("img, svg, script:not([src])").count() == 0
    assert_clean(page)


def test_keyboard_only_edit_and_approve(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "kb", "Send email to kim@example.com")
    ask(svc, "kb2", "Send email to lee@example.com")
    page.locator("#inbox .card", has_text="lee@example.com").wait_for()

    def tab_to(predicate: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"(e => {predicate})(document.activeElement)"):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("e.getAttribute('aria-label') === 'Edit the arguments of send_email in thread kb'")
    style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert style != "none", "the focused button has no visible focus style"
    page.keyboard.press("Enter")
    assert wait_until(lambda: page.evaluate("document.activeElement.name") == "to")  # into the form
    page.keyboard.press("Control+A")
    page.keyboard.type("kay@example.com")
    tab_to("e.textContent === 'Approve with edits'")
    page.keyboard.press("Enter")
    assert wait_until(lambda: recipients(svc) == ["kay@example.com"])
    # focus moved to the next card itself, never to a button: Enter twice decides nothing unread
    # (polled from here: the page's CSP forbids the eval behind wait_for_function)
    assert wait_until(lambda: page.evaluate("document.activeElement.dataset.id") is not None)
    assert "lee@example.com" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert recipients(svc) == ["kay@example.com"] and status_of(svc, "kb2") == "pending"
    page.keyboard.press("a")  # the shortcut approves the card that has the focus
    assert wait_until(lambda: recipients(svc) == ["kay@example.com", "lee@example.com"])
    assert_clean(page)


def test_phone_width_has_no_horizontal_overflow_and_every_control_is_labelled(browser, svc):
    page = sign_in(browser, svc, width=375, height=740)
    ask(svc, "phone", "Send email to pat@example.com about " + "averyveryverylongwordwithoutanyspaces" * 4)
    card = page.locator("#inbox .card", has_text="pat@example.com")
    card.wait_for()
    card.get_by_text("Conversation that led here").click()
    card.locator(".messages li").first.wait_for()
    card.get_by_role("button", name="Edit the arguments").click()
    card.get_by_label("to (required)").wait_for()

    def overflow() -> int:
        return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    assert overflow() <= 0, f"horizontal overflow of {overflow()}px at 375px"
    shot(page, "inbox-phone.png")
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea, button, a[href]')]
        .filter(e => e.offsetParent !== null || e.type === 'checkbox')
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")
    assert unlabelled == []
    assert axe_violations(page) == []
    assert axe_needs_review(page) == []
    page.emulate_media(color_scheme="dark")  # dark mode follows prefers-color-scheme
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(23, 24, 26)"
    assert axe_violations(page) == []
    assert axe_needs_review(page) == []
    for view in ["History", "New conversation"]:
        page.get_by_role("link", name=view).click()
        assert overflow() <= 0, f"{view}: horizontal overflow at 375px"
    assert_clean(page)


# -- conversations -------------------------------------------------------------------------


def test_start_a_conversation_and_watch_the_reply_stream_in(browser, tmp_path):
    svc = start(tmp_path, graph="streaming")  # replies arrive a word at a time (message.delta)
    try:
        page = sign_in(browser, svc)
        page.get_by_role("link", name="New conversation").click()
        page.evaluate("""() => { window.__replies = [];
            new MutationObserver(() => window.__replies.push(document.getElementById('chat-reply').textContent))
              .observe(document.getElementById('chat-reply'), { childList: true, characterData: true, subtree: true }); }""")
        page.get_by_label("Conversation thread").fill("chat1")
        page.get_by_label("Message to the agent").fill("hello there my agent friend")
        page.get_by_role("button", name="Send", exact=True).click()
        page.locator("#chat-status", has_text="Done.").wait_for()
        assert page.locator("#chat-reply").inner_text() == "You said: hello there my agent friend"
        partial = [t for t in page.evaluate("window.__replies") if t and t != "You said: hello there my agent friend"]
        assert len(partial) >= 3, f"the reply did not stream: {partial}"
        assert page.get_by_label("Message to the agent").input_value() == ""

        page.get_by_label("Message to the agent").fill("Send email to zoe@example.com")
        page.get_by_role("button", name="Send", exact=True).click()
        page.locator("#chat-status", has_text="Waiting for an approval").wait_for()
        page.get_by_role("link", name="decide in the inbox").click()
        page.locator("#inbox .card", has_text="zoe@example.com").get_by_role(
            "button", name="Approve send_email in thread chat1").click()
        page.get_by_role("link", name="New conversation").click()
        page.locator("#chat-reply", has_text="Done.").wait_for()  # the resumed run, followed live
        page.get_by_text("Whole conversation").click()
        page.locator("#chat-transcript li.human", has_text="Send email to zoe@example.com").wait_for()
        assert_clean(page)
    finally:
        svc.stop()


def test_the_reply_arrives_by_polling_when_no_events_do(browser, svc):
    context = browser.new_context()
    page = context.new_page()
    paste_token(page, svc)
    context.route("**/events", lambda route: route.abort())  # no live stream from now on
    page.reload()
    page.get_by_role("link", name="New conversation").click()
    page.get_by_label("Conversation thread").fill("poll1")
    page.get_by_label("Message to the agent").fill("hello by polling")
    page.get_by_role("button", name="Send", exact=True).click()
    page.locator("#chat-reply", has_text="You said: hello by polling").wait_for()
    page.locator("#chat-status", has_text="Done.").wait_for()
    assert page.locator("#live").inner_text() == "Reconnecting…"


def test_questions_and_breakpoints_take_their_own_answers(browser, tmp_path):
    svc = launch(tmp_path, graph=str(HERE.parent / "server" / "question_graph.py") + ":graph", policy=None, users=USERS)
    try:
        page = sign_in(browser, svc)
        ask(svc, "q1", "go")
        card = page.locator("#inbox .card", has_text="Should I proceed?")
        yes, no = card.get_by_role("button", name="Answer yes"), card.get_by_role("button", name="Answer no")
        yes.wait_for()
        assert yes.is_visible() and no.is_visible() and card.locator("select").count() == 0  # nothing preselected
        no.click()
        card.wait_for(state="detached")
        assert wait_until(lambda: status_of(svc, "q1") == "answered")
        item = svc.client("rev").get("/approvals", params={"thread_id": "q1", "status": "all"}).json()["items"][0]
        assert item["decision"]["value"] == "no"
        assert_clean(page)
    finally:
        svc.stop()


def test_a_breakpoint_continues_from_the_page(browser, tmp_path):
    svc = start(tmp_path, graph="breakpoints")
    try:
        page = sign_in(browser, svc)
        ask(svc, "bp1", "go")
        card = page.locator("#inbox .card", has_text="Paused before")
        card.get_by_role("button", name="Continue the run in thread bp1").click()
        card.wait_for(state="detached")
        page.get_by_role("link", name="History").click()
        page.locator("#history .card", has_text="Paused before").get_by_role("link", name="Open thread bp1").click()
        page.locator("#thread-messages li", has_text="Acted on the plan.").wait_for()
        assert_clean(page)
    finally:
        svc.stop()


def test_readme_screenshot_is_committed():
    """The README links docs/images/inbox.png; HITL_README_SCREENSHOT=1 makes test_a_new_request_appears_live_… rewrite it."""
    assert (HERE.parents[1] / "docs" / "images" / "inbox.png").stat().st_size > 10_000


# -- the thread list -------------------------------------------------------------------------

THREAD_USERS = {"cy": ("requester",), "dee": ("requester",), "rev": USERS["rev"]}


def thread_rows(page) -> list[str]:
    return sorted(page.locator("#threads .thread-row").evaluate_all("rows => rows.map(r => r.dataset.thread)"))


def show_tab(page, name: str, expected: list[str]) -> None:
    """Wait until the selected tab is `name` and its rows are the threads `expected`."""
    page.get_by_role("tab", name=name, selected=True).wait_for()
    assert wait_until(lambda: thread_rows(page) == expected), (name, thread_rows(page))


def test_thread_list_tabs_follow_real_runs_and_show_only_ones_own_threads(browser, tmp_path):
    svc = launch(tmp_path, graph=f"{GRAPH}:graph", policy=STRICT_POLICY, users=THREAD_USERS)
    try:
        for thread, message in [("cy-paused", "Send email to pat@example.com"), ("cy-done", "hello"),
                                ("cy-broken", "crash, please"), ("dee-paused", "Send email to dee@example.com"),
                                ("dee-done", "hi")]:
            ask(svc, thread, message, user=thread.split("-")[0])
        expected = {"cy-paused": "interrupted", "cy-done": "idle", "cy-broken": "error",
                    "dee-paused": "interrupted", "dee-done": "idle"}
        listed = lambda: {t["id"]: t["status"] for t in svc.client("rev").get("/threads").json()}  # noqa: E731
        assert wait_until(lambda: listed() == expected, 30), listed()

        for width, height in [(1280, 900), (375, 740)]:
            page = sign_in(browser, svc, "cy", width=width, height=height)
            page.get_by_role("link", name="Threads").click()
            show_tab(page, "Interrupted", ["cy-paused"])  # never dee's, though hers waits too
            row = page.locator("#threads .thread-row", has_text="cy-paused")
            assert row.locator(".badge").inner_text() == "interrupted"
            assert row.locator(".waiting").inner_text() == "1 request waits"
            assert row.locator("time").get_attribute("datetime")  # the last update
            assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
            assert axe_violations(page) == [] and axe_needs_review(page) == []

            page.get_by_role("tab", name="Idle").click()
            show_tab(page, "Idle", ["cy-done"])
            assert page.locator("#threads .waiting").count() == 0
            # keyboard: the selected tab is the one tab stop, the arrow keys move and select
            page.get_by_role("tab", name="Idle").press("ArrowRight")
            show_tab(page, "Error", ["cy-broken"])
            assert page.evaluate("document.activeElement.id") == "tab-error"
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("ArrowLeft")
            show_tab(page, "Running", [])
            page.locator("#threads-empty", has_text="No threads in this state").wait_for()
            page.keyboard.press("Home")
            show_tab(page, "Interrupted", ["cy-paused"])
            page.keyboard.press("Tab")  # from the tabs into the list
            assert page.evaluate("document.activeElement.textContent") == "cy-paused"
            page.emulate_media(color_scheme="dark")
            assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(23, 24, 26)"
            assert axe_violations(page) == [] and axe_needs_review(page) == []
            page.emulate_media(color_scheme="light")
            assert_clean(page)
            page.context.close()

        # A decision resumes the run: once it finishes the thread shows under Idle, live (on the
        # decision's or the run's event, whichever sees it finished), and leaves Interrupted.
        page = sign_in(browser, svc, "cy")
        page.get_by_role("link", name="Threads").click()
        show_tab(page, "Interrupted", ["cy-paused"])
        page.get_by_role("tab", name="Idle").click()
        show_tab(page, "Idle", ["cy-done"])
        item = svc.client("rev").get("/approvals", params={"thread_id": "cy-paused"}).json()["items"][0]
        decided = svc.client("rev").post(f"/approvals/{item['id']}/decision", json={"type": "approve"})
        assert decided.status_code == 200, decided.text
        assert wait_until(lambda: thread_rows(page) == ["cy-done", "cy-paused"], 20)  # no click, no reload
        page.get_by_role("tab", name="Interrupted").click()
        show_tab(page, "Interrupted", [])
        page.get_by_role("tab", name="Idle").click()
        show_tab(page, "Idle", ["cy-done", "cy-paused"])
        page.get_by_role("link", name="Open thread cy-paused").click()
        page.locator("#thread-messages li", has_text="pat@example.com").first.wait_for()
        assert_clean(page)

        page = sign_in(browser, svc, "dee", width=375, height=740)
        page.get_by_role("link", name="Threads").click()
        show_tab(page, "Interrupted", ["dee-paused"])
        page.get_by_role("tab", name="Idle").click()
        show_tab(page, "Idle", ["dee-done"])
        page.get_by_role("tab", name="Error").click()
        show_tab(page, "Error", [])
        assert_clean(page)
    finally:
        svc.stop()


# -- the calls of one model turn ---------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 375])
def test_the_calls_of_one_turn_are_shown_together_and_each_is_decided_on_its_own(browser, svc, width):
    page = sign_in(browser, svc, width=width, height=800)
    ask(svc, "turn", "Send email to amy@example.com and bo@example.com")
    head = page.locator("#inbox > li.turn-head")
    head.wait_for()
    assert "One model turn in thread turn: its 2 calls below" in head.inner_text()
    calls = page.locator("#inbox > li.card.in-turn")
    assert wait_until(lambda: calls.count() == 2)
    # The heading, then the turn's cards in the order the model made the calls.
    order = page.evaluate("""[...document.querySelectorAll('#inbox > li')].map(li =>
        li.classList.contains('turn-head') ? 'head' : li.querySelector('dl.args dd').textContent)""")
    assert order == ["head", "amy@example.com", "bo@example.com"]
    for n, card in enumerate((calls.nth(0), calls.nth(1)), 1):  # own buttons, and the paused-thread rule
        assert card.get_by_role("button", name=f"Approve send_email in thread turn (call {n} of 2)").is_visible()
        assert "new messages to this thread are refused" in card.locator(".paused-rule").inner_text()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"horizontal overflow of {overflow}px at {width}px"
    assert axe_violations(page) == []
    shot(page, f"inbox-turn-{width}.png")

    bo = page.locator("#inbox .card.in-turn").nth(1)
    bo.get_by_role("button", name="Approve send_email in thread turn (call 2 of 2)").click()
    page.locator("#announce", has_text="Approved: send_email in thread turn").wait_for()
    assert wait_until(lambda: calls.count() == 1)
    # The approved call ran while its sibling still waits.
    assert wait_until(lambda: recipients(svc) == ["bo@example.com"])
    assert wait_until(lambda: "1 of its 2 calls" in head.inner_text())
    amy = page.locator("#inbox .card.in-turn")
    assert amy.locator("dl.args dd").first.inner_text() == "amy@example.com"
    assert amy.get_by_role("button", name="Approve send_email in thread turn (call 1 of 2)").is_visible()

    amy.get_by_role("button", name="Reject send_email").click()
    amy.get_by_label("Reason for rejecting").fill("not amy")
    amy.get_by_role("button", name="Reject", exact=True).click()
    amy.wait_for(state="detached")
    head.wait_for(state="detached")
    assert wait_until(lambda: svc.client("rev").get("/threads/turn/state").json()["next"] == [])
    time.sleep(0.3)
    assert recipients(svc) == ["bo@example.com"]  # the rejected call never ran
    assert_clean(page)


def test_a_message_to_a_paused_thread_is_refused_and_the_page_says_where_to_decide(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "held", "Send email to cy@example.com")
    page.locator("#inbox .card", has_text="cy@example.com").wait_for()
    page.get_by_role("link", name="New conversation").click()
    page.get_by_label("Conversation thread").fill("held")
    page.get_by_label("Message to the agent").fill("and send it to dee@example.com too")
    page.get_by_role("button", name="Send", exact=True).click()
    error = page.locator("#chat-error")
    error.get_by_role("link", name="decide the waiting request in the inbox").wait_for()
    assert "waits for a decision on send_email" in error.inner_text()
    error.get_by_role("link", name="decide the waiting request in the inbox").click()
    page.locator("#inbox .card", has_text="cy@example.com").wait_for()
    assert recipients(svc) == []
    assert_clean(page)
