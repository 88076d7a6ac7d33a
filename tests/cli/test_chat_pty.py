"""`hitl chat` in a real terminal (a pty, through pexpect): Ctrl-C stops the answer being
written and the prompt comes back; an edit shows its diff and waits for a yes; Ctrl-C at
the prompt ends the chat."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pexpect

from tests.cli.conftest import outbox

HERE = Path(__file__).parent


def test_ctrl_c_and_an_edit_in_a_real_terminal(tmp_path):
    words = tmp_path / "words.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update({"HITL_HOME": str(tmp_path), "PTY_CHAT_WORDS": str(words), "COLUMNS": "100", "TERM": "dumb"})
    chat = pexpect.spawn(
        sys.executable, [str(HERE / "pty_chat.py"), "chat", "--db", f"sqlite:///{tmp_path}/chat.db", "--thread", "pty"],
        env=env, cwd=str(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, 100),
        # As a shell in a terminal starts it: a test runner started in the background (`cmd &`
        # without job control) ignores SIGINT, and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        chat.expect_exact("you> ")
        chat.sendline("tell me a long story")
        chat.expect_exact("w3 ")
        chat.sendcontrol("c")  # the terminal turns this into SIGINT for the process
        chat.expect_exact("Stopped: the answer was cancelled; ask again or go on.")
        chat.expect_exact("you> ")  # the session goes on
        stopped_at = len(words.read_text().split())
        assert stopped_at < 40, stopped_at  # of 400 words: generation stopped, not the printing

        chat.sendline("Send email to bob@example.com")
        chat.expect_exact("approval needed")
        chat.expect_exact("? ")
        chat.sendline("e")
        chat.expect_exact("to (bob@example.com)> ")
        chat.sendline("carol@example.com")
        chat.expect_exact("subject (Hello)> ")
        chat.sendline("")
        chat.expect_exact("> ")  # body
        chat.sendline("")
        chat.expect_exact("your edit of send_email")
        chat.expect_exact("- bob@example.com")
        chat.expect_exact("+ carol@example.com")
        chat.expect_exact("send the edited call? (y/n)> ")
        assert outbox(tmp_path) == []  # nothing is sent before the yes
        chat.sendline("y")
        chat.expect_exact("Done. Email to carol@example.com")
        chat.expect_exact("you> ")
        assert len(words.read_text().split()) == stopped_at  # nothing went on in the background

        chat.sendcontrol("c")  # at the prompt: the chat ends, as before
        chat.expect_exact("Bye. Resume with: hitl chat --thread pty")
        chat.expect(pexpect.EOF)
    finally:
        chat.close(force=True)
    assert chat.exitstatus == 0, chat.before
    assert outbox(tmp_path) == ["carol@example.com"]
