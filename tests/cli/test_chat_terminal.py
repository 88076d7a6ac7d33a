"""`hitl chat` as a person uses it all day: a reason to reject, a diff before an edited call
is sent, long values in full, and Ctrl-C that stops an answer without ending the chat."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field

from langgraph_ollama_local import create_approval_agent
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.cli.session import STOPPED_NOTE, run_chat
from langgraph_ollama_local.llm.cancel import cancel_requested
from tests.cli.conftest import outbox

ASK_BOB = "Send email to bob@example.com"


def tool_results(session) -> list[ToolMessage]:
    state = session.graph.get_state(session.runner.config(session.thread_id))
    return [m for m in state.values["messages"] if isinstance(m, ToolMessage)]


def test_a_reject_needs_a_reason_as_on_the_web(make_session, tmp_path):
    session, keys, console = make_session([ASK_BOB, "r", "", "   ", "wrong recipient", "/quit"])
    run_chat(session)
    text = console.export_text()
    assert text.count("A reason is required") == 2
    assert keys.prompts.count("reason, told to the agent (required)> ") == 3
    assert outbox(tmp_path) == []
    (result,) = tool_results(session)
    assert "wrong recipient" in result.content


def test_an_edit_shows_old_and_new_and_is_sent_only_after_a_yes(make_session, tmp_path):
    answers = [ASK_BOB, "e", "carol@example.com", "", "", "maybe", "n", "e", '{"subject": "Agenda"}', "y", "/quit"]
    session, _, console = make_session(answers)
    run_chat(session)
    text = console.export_text()
    first, second = text.split("Not sent; decide again.")
    assert "your edit of send_email" in first and "- bob@example.com" in first and "+ carol@example.com" in first
    assert "Please answer y or n." in first
    assert "- Hello" in second and "+ Agenda" in second and "unchanged: to, body" in second
    assert outbox(tmp_path) == ["bob@example.com"]  # the declined edit was never sent
    (result,) = tool_results(session)
    assert result.name == "send_email"


def test_an_edit_that_changes_nothing_is_not_sent(make_session, tmp_path):
    session, _, console = make_session([ASK_BOB, "e", "", "", "", "a", "/quit"])
    run_chat(session)
    assert "No argument changed; nothing was sent." in console.export_text()
    assert outbox(tmp_path) == ["bob@example.com"]


def test_a_long_value_is_shown_whole_before_it_is_edited(make_session, tmp_path):
    long_ask = ASK_BOB + " " + "about the quarterly numbers " * 6 + "THE-END"
    session, keys, console = make_session([long_ask, "e", "", "", "short body", "y", "/quit"])
    run_chat(session)
    text = console.export_text()
    assert "current body" in text and "THE-END" in text.split("current body")[1]
    assert "body (Enter keeps the value above)> " in keys.prompts
    assert outbox(tmp_path) == ["bob@example.com"]


class _Rambler(BaseChatModel):
    """Streams a 300-word answer, one word at a time, and counts the words it produced.

    After `ctrl_c_after` words of its first answer it sends this process a real SIGINT, as
    the terminal does on Ctrl-C; later answers are short.
    """

    produced: list[str] = Field(default_factory=list)
    calls: int = 0
    ctrl_c_after: int = 3

    @property
    def _llm_type(self) -> str:
        return "rambler"

    def bind_tools(self, tools: Any, **kwargs: Any) -> _Rambler:
        return self

    def _words(self) -> list[str]:
        self.calls += 1
        return [f"w{i} " for i in range(300)] if self.calls == 1 else ["Short ", "answer."]

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:  # fmt: skip
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self._words())))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any):  # fmt: skip
        first = self.calls == 0
        for index, word in enumerate(self._words()):
            self.produced.append(word)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
            if run_manager is not None:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
            if first and index + 1 == self.ctrl_c_after:
                # As the terminal sends Ctrl-C: to the process, which Linux hands to the main
                # thread (raise_signal would target this worker thread instead).
                os.kill(os.getpid(), signal.SIGINT)
                # A real model spends tens of ms on each token, time enough for the main
                # thread to take the signal; this one waits for it (at most 10 s) instead.
                deadline = time.monotonic() + 10
                while not cancel_requested() and time.monotonic() < deadline:
                    time.sleep(0.001)


@pytest.fixture
def terminal_sigint():
    """SIGINT as Python sets it up in a terminal. A test runner started in the background
    (`cmd &` without job control) inherits SIGINT ignored, and the chat rightly leaves an
    ignored Ctrl-C alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_answer_and_the_chat_goes_on(make_session, config, terminal_sigint):
    assert threading.current_thread() is threading.main_thread()
    model = _Rambler()
    graph = create_approval_agent(model, default_tools(config), checkpointer=InMemorySaver(), turns="native")
    session, keys, console = make_session(["tell me a long story", "and now?", "/quit"], graph=graph)
    run_chat(session)
    text = console.export_text()
    # The model was stopped right after the Ctrl-C, not left to write its 300 words.
    assert model.produced[: model.ctrl_c_after] == ["w0 ", "w1 ", "w2 "]
    assert len(model.produced) <= model.ctrl_c_after + 1 + 2, model.produced  # + the second answer
    assert "Stopped: the answer was cancelled; ask again or go on." in text
    assert "agent> Short answer." in text  # the session went on and answered the next message
    assert keys.prompts.count("you> ") == 3 and "Bye." in text
    state = graph.get_state(session.runner.config(session.thread_id))
    assert state.next == ()
    texts = [(type(m).__name__, str(m.content)) for m in state.values["messages"]]
    assert texts[0] == ("HumanMessage", "tell me a long story")
    assert texts[1][0] == "AIMessage" and texts[1][1].startswith("w0 w1 w2") and STOPPED_NOTE in texts[1][1]
    assert texts[2:] == [("HumanMessage", "and now?"), ("AIMessage", "Short answer.")]
    assert isinstance(state.values["messages"][0], HumanMessage)
    # Ctrl-C at the prompt still ends the chat, and Python's own handler is back in place.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
