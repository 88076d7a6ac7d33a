"""The web inbox in Debian's Chromium (Playwright), against a real `hitl serve`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest

from tests.server.support import HERE, Service, launch, wait_until

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield instance
        instance.close()


@pytest.fixture
def svc(tmp_path) -> Iterator[Service]:
    service = launch(tmp_path, graph="scripted_graph.py:graph", policy=None, users={"rev": ("admin", "approver")})
    yield service
    service.stop()


def sign_in(browser, svc: Service, width: int = 1280, height: int = 800):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{svc.base}/login#token={svc.tokens['rev']}")
    page.wait_for_url(f"{svc.base}/")
    page.get_by_text("live", exact=True).wait_for()
    page.errors = errors  # type: ignore[attr-defined]
    return page


def ask(svc: Service, thread: str, message: str) -> None:
    response = svc.client("rev").post(f"/threads/{thread}/runs", json={"message": message})
    assert response.status_code == 202, response.text


def recipients(svc: Service) -> list[str]:
    return sorted(str(message_from_bytes(p.read_bytes())["To"]) for p in svc.outbox())


def test_login_required_and_a_new_request_appears_live_then_approve(browser, svc):
    assert httpx.get(f"{svc.base}/", follow_redirects=False).status_code == 303  # no session: to /login
    page = sign_in(browser, svc)
    assert page.url == f"{svc.base}/"  # the token left the address bar
    ask(svc, "live1", "Send email to ann@example.com")  # after the page loaded: no reload below
    card = page.locator(".card", has_text="send_email")
    card.wait_for()
    assert "ann@example.com" in card.locator("pre.args").inner_text()
    assert "stage approval (1/1), role approver" in card.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
    card.get_by_role("button", name="Approve send_email in thread live1").click()
    card.wait_for(state="detached")
    assert wait_until(lambda: recipients(svc) == ["ann@example.com"])
    page.get_by_role("button", name="History").click()
    done = page.locator("#history .card", has_text="ann@example.com")
    done.wait_for()
    assert "approved" in done.inner_text() and "decided by rev" in done.inner_text()
    done.get_by_role("button", name="Open thread live1").click()
    page.locator("#thread-messages li", has_text="Done.").wait_for()  # the agent continued
    assert page.locator("#thread-audit li", has_text="approval.decided").count() == 1
    page.screenshot(path=str(ARTIFACTS / "decision.png"), full_page=True)
    assert page.errors == []


def test_edit_with_schema_form_validation_and_diff(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "edit1", "Send email to bob@example.com")
    card = page.locator(".card", has_text="bob@example.com")
    card.get_by_role("button", name="Edit…").click()
    to = card.get_by_label("to (required)")
    to.fill("")
    card.get_by_role("button", name="Approve with edits").click()
    card.get_by_text("to is required").wait_for()  # checked before sending; nothing sent
    assert svc.client("rev").get("/approvals", params={"thread_id": "edit1"}).json()["items"][0]["status"] == "pending"
    to.fill("carol@example.com")
    diff = card.locator(".diff")
    assert diff.locator("del").first.inner_text() == '"bob@example.com"'
    assert diff.locator("ins").first.inner_text() == '"carol@example.com"'
    card.get_by_role("button", name="Approve with edits").click()
    card.wait_for(state="detached")
    assert wait_until(lambda: recipients(svc) == ["carol@example.com"])


def test_reject_with_reason_and_respond(browser, svc):
    page = sign_in(browser, svc)
    ask(svc, "rej", "Send email to dan@example.com")
    card = page.locator(".card", has_text="dan@example.com")
    card.get_by_role("button", name="Reject…").click()
    card.get_by_label("Reason for rejecting").fill("wrong recipient")
    card.get_by_role("button", name="Reject", exact=True).click()
    card.wait_for(state="detached")
    ask(svc, "resp", "Send email to eve@example.com")
    card = page.locator(".card", has_text="eve@example.com")
    card.get_by_role("button", name="Respond…").click()
    card.get_by_label("Message to the agent instead of running the tool").fill("Ask me again tomorrow.")
    card.get_by_role("button", name="Send response").click()
    card.wait_for(state="detached")
    page.get_by_role("button", name="History").click()
    page.locator("#history .card", has_text="reason: wrong recipient").wait_for()
    assert "rejected" in page.locator("#history .card", has_text="dan@example.com").inner_text()
    assert "responded" in page.locator("#history .card", has_text="eve@example.com").inner_text()
    time.sleep(0.5)
    assert recipients(svc) == []


def test_model_written_markup_is_shown_as_text_not_run(browser, svc):
    page = sign_in(browser, svc)
    hostile = 'Send email to x@example.com <script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    ask(svc, "xss", hostile)
    card = page.locator(".card", has_text="x@example.com")
    card.wait_for()
    assert "<script>window.pwned=1</script>" in card.locator("pre.args").inner_text()
    card.get_by_text("Conversation that led here").click()
    card.locator(".messages li", has_text="onerror").first.wait_for()
    time.sleep(0.5)
    assert page.evaluate("window.pwned") is None
    assert page.locator("img[src=x]").count() == 0 and page.locator("script:not([src])").count() == 0


def test_keyboard_only_approval_and_phone_width(browser, svc):
    page = sign_in(browser, svc, width=375, height=740)
    ask(svc, "kb", "Send email to kim@example.com")
    page.locator(".card", has_text="kim@example.com").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"horizontal overflow of {overflow}px at 375px"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Approve":
            break
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Approve send_email in thread kb"
    page.keyboard.press("Enter")
    assert wait_until(lambda: recipients(svc) == ["kim@example.com"])
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, textarea, button')].filter(e =>
        !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim() && !e.placeholder).length""")
    assert unlabelled == 0


def test_start_a_conversation_and_watch_the_reply(browser, svc):
    page = sign_in(browser, svc)
    page.get_by_role("button", name="New conversation").click()
    page.get_by_label("Conversation thread").fill("chat1")
    page.get_by_label("Message to the agent").fill("hello there")
    page.get_by_role("button", name="Send").click()
    page.locator("#chat-reply", has_text="You said: hello there").wait_for()
    page.get_by_label("Message to the agent").fill("Send email to zoe@example.com")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("waiting for an approval").wait_for()
    page.get_by_role("button", name="Inbox").click()
    page.locator(".card", has_text="zoe@example.com").get_by_role("button", name="Approve send_email in thread chat1").click()
    page.get_by_role("button", name="New conversation").click()
    page.locator("#chat-reply", has_text="Done.").wait_for()


def test_an_expired_request_shows_as_expired(browser, tmp_path):
    timed = tmp_path / "timed_graph.py"
    timed.write_text((HERE / "scripted_graph.py").read_text().replace(
        '"allowed_decisions": ["approve", "edit", "reject", "respond"]',
        '"stages": [{"role": "approver", "timeout_seconds": 3}]'))
    svc = launch(tmp_path, graph=str(timed) + ":graph", policy=None, users={"rev": ("admin", "approver")})
    try:
        page = sign_in(browser, svc)
        ask(svc, "slow", "Send email to late@example.com")
        card = page.locator(".card", has_text="late@example.com")
        card.locator(".countdown", has_text="left").wait_for()  # a live countdown
        card.wait_for(state="detached", timeout=20_000)  # expired by the deadline sweeper, live
        page.get_by_role("button", name="History").click()
        expired = page.locator("#history .card", has_text="late@example.com")
        expired.wait_for()
        assert "expired" in expired.inner_text() and "decided by system:deadline" in expired.inner_text()
        assert recipients(svc) == []
    finally:
        svc.stop()


def test_readme_screenshot_is_committed():
    """The README links docs/images/inbox.png; refresh it from tests/web/artifacts/ by hand."""
    assert (Path(__file__).parents[2] / "docs" / "images" / "inbox.png").stat().st_size > 10_000
