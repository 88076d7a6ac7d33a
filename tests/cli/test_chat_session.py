"""The real `hitl chat` loop, driven with the scripted model and scripted keystrokes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langgraph_ollama_local import ApprovalPolicy, ToolRule, ask_human, create_approval_agent
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.approvals import Stage
from langgraph_ollama_local.cli.session import run_chat
from langgraph_ollama_local.llm.errors import ProviderUnavailableError
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.cli.conftest import outbox

ASK_BOB = "Send email to bob@example.com"


def tool_messages(session) -> list[ToolMessage]:
    state = session.graph.get_state(session.runner.config(session.thread_id))
    return [m for m in state.values["messages"] if isinstance(m, ToolMessage)]


def test_approve_sends_the_email(make_session, tmp_path):
    session, _, console = make_session([ASK_BOB, "a", "/quit"])
    run_chat(session)
    assert outbox(tmp_path) == ["bob@example.com"]
    text = console.export_text()
    assert "approval needed" in text and "send_email" in text
    assert '"to": "bob@example.com"' in text  # the arguments, pretty-printed as JSON
    assert "stage approval   role approver" in text
    assert "agent> Done. Email to bob@example.com saved in the local outbox" in text
    assert "Resume with: hitl chat --thread cli-test" in text


def test_edit_field_by_field_sends_to_the_edited_recipient(make_session, tmp_path):
    session, keys, _ = make_session([ASK_BOB, "e", "carol@example.com", "", "", "y", "/quit"])
    run_chat(session)
    assert outbox(tmp_path) == ["carol@example.com"]
    # Each argument was offered with its current value as the default.
    assert "to (bob@example.com)> " in keys.prompts and "subject (Hello)> " in keys.prompts


def test_edit_as_a_json_object(make_session, tmp_path):
    session, _, _ = make_session([ASK_BOB, "edit", '{"to": "carol@example.com", "subject": "Hi"}', "y", "/quit"])
    run_chat(session)
    assert outbox(tmp_path) == ["carol@example.com"]
    assert tool_messages(session)[-1].name == "send_email"


def test_reject_with_a_reason_sends_nothing_and_tells_the_agent(make_session, tmp_path):
    session, _, console = make_session([ASK_BOB, "r", "wrong recipient", "/quit"])
    run_chat(session)
    assert outbox(tmp_path) == []
    (result,) = tool_messages(session)
    assert "rejected" in result.content and "wrong recipient" in result.content
    assert "agent> Done. The user rejected the send_email call: wrong recipient" in console.export_text()


def test_respond_gives_the_agent_a_result_instead_of_running_the_tool(make_session, tmp_path):
    session, _, console = make_session([ASK_BOB, "s", "Bob left the company", "/quit"])
    run_chat(session)
    assert outbox(tmp_path) == []
    assert tool_messages(session)[-1].content == "Bob left the company"
    assert "agent> Done. Bob left the company" in console.export_text()


def test_invalid_edit_is_refused_before_sending_and_asked_again(make_session, tmp_path):
    answers = [
        ASK_BOB,
        "e",
        '{"to": 5}',
        "e",
        '{"cc": "x@example.com"}',
        "e",
        "dan@example.com",
        "",
        "",
        "yes",
        "/quit",
    ]
    session, _, console = make_session(answers)
    run_chat(session)
    text = console.export_text()
    assert "Not accepted: to: Input should be a valid string" in text
    assert "Not accepted: unknown argument(s) ['cc']" in text
    assert outbox(tmp_path) == ["dan@example.com"]


def test_invalid_edit_refused_by_the_graph_loses_nothing(make_session, tmp_path):
    """Without a local check, LangGraph refuses the answer (ValidationError) before saving it."""
    session, _, console = make_session(
        [ASK_BOB, "e", '{"to": 5}', "y", "e", "erin@example.com", "", "", "y", "/quit"], check_locally=False
    )
    run_chat(session)
    text = console.export_text()
    assert "Not accepted: edited args do not fit 'send_email': to: Input should be a valid string" in text
    assert "nothing was changed, answer again" in text
    assert text.count("approval needed") == 1  # asked again, panel not repeated
    assert outbox(tmp_path) == ["erin@example.com"]


def test_unknown_answer_is_asked_again(make_session, tmp_path):
    session, _, console = make_session([ASK_BOB, "maybe", "a", "/quit"])
    run_chat(session)
    assert "Please answer one of: approve, edit, reject, respond." in console.export_text()
    assert outbox(tmp_path) == ["bob@example.com"]


def test_only_the_allowed_decisions_are_offered(make_session, config, tmp_path):
    policy = ApprovalPolicy(
        default="allow", tools={"send_email": (ToolRule(allowed_decisions=("approve", "reject")),)}
    )
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        default_tools(config),
        policy=policy,
        checkpointer=InMemorySaver(),
    )
    session, keys, console = make_session([ASK_BOB, "e", "a", "/quit"], graph=graph)
    run_chat(session)
    assert "[a]pprove / [r]eject? " in keys.prompts
    assert "Please answer one of: approve, reject." in console.export_text()
    assert outbox(tmp_path) == ["bob@example.com"]


def test_markup_and_html_in_arguments_print_literally(make_session):
    evil = "[bold red]<script>alert(1)</script>[/bold red] :smile: [link=http://x]y[/link]"
    session, _, console = make_session([f"Send email to x@example.com {evil}", "r", "no", "/quit"])
    run_chat(session)
    # In the panel (not just the echoed input), exactly as the model wrote it.
    assert f'"body": "Message: Send email to x@example.com {evil}"' in console.export_text()


def test_ctrl_d_at_the_approval_leaves_it_pending_and_a_new_session_shows_it_first(make_session, tmp_path):
    session, _, console = make_session([ASK_BOB])  # then Ctrl-D (EOFError) at the decision
    run_chat(session)
    assert "Resume with: hitl chat --thread cli-test" in console.export_text()
    assert outbox(tmp_path) == []

    again, _, console2 = make_session(["a", "/quit"], graph=session.graph)
    run_chat(again)
    text = console2.export_text()
    assert "Resuming thread cli-test" in text
    assert text.index("approval needed") < text.index("you> ")  # pending shown before chatting
    assert outbox(tmp_path) == ["bob@example.com"]


def test_ctrl_c_exits_cleanly_with_the_resume_hint(make_session):
    session, _, console = make_session(["hello", KeyboardInterrupt()])
    run_chat(session)
    text = console.export_text()
    assert "agent> You said: hello" in text
    assert text.rstrip().endswith("Bye. Resume with: hitl chat --thread cli-test")


def test_chat_commands(make_session):
    session, _, console = make_session(["/thread", "/pending", "/help", "/bogus", "/quit"])
    run_chat(session)
    text = console.export_text()
    assert "thread cli-test — resume with: hitl chat --thread cli-test" in text
    assert "Nothing waits for you on this thread." in text
    assert "Unknown command /bogus." in text


def test_safe_tool_runs_without_asking(make_session, tmp_path):
    session, keys, console = make_session(["What is the weather in Paris?", "/quit"])
    run_chat(session)
    text = console.export_text()
    assert "approval needed" not in text
    assert "  ↳ get_weather: Weather in Paris:" in text
    assert keys.prompts == ["you> ", "you> "]


class _StreamingModel(GenericFakeChatModel):
    """Streams its reply word by word, like Ollama or the embedded model."""

    def bind_tools(self, tools, **kwargs):
        return self


def test_tokens_stream_into_one_reply_line(make_session, config):
    model = _StreamingModel(messages=iter([AIMessage(content="Hello there, friend [b]x[/b]")]))
    graph = create_approval_agent(model, default_tools(config), checkpointer=InMemorySaver())
    session, _, console = make_session(["hi", "/quit"], graph=graph)
    run_chat(session)
    text = console.export_text()
    assert "agent> Hello there, friend [b]x[/b]\n" in text
    assert text.count("agent>") == 1


class _State(TypedDict):
    answer: str


def test_a_generic_question_is_answered_with_free_text(make_session):
    def ask(state: _State) -> _State:
        return {"answer": str(ask_human("Which city, [b]exactly[/b]?"))}

    builder = StateGraph(_State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    session, _, console = make_session(["", "Lisbon", "/quit"], graph=graph)
    graph.invoke({"answer": ""}, session.runner.config("cli-test"))
    run_chat(session)
    text = console.export_text()
    assert "Resuming thread cli-test" in text
    assert "Which city, [b]exactly[/b]?" in text
    assert "An empty answer cannot be sent" in text
    assert graph.get_state(session.runner.config("cli-test")).values["answer"] == "Lisbon"


def test_a_static_breakpoint_asks_to_continue(make_session, config, tmp_path):
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        default_tools(config),
        policy=ApprovalPolicy.allow_all(),
        checkpointer=InMemorySaver(),
        interrupt_before=["tools"],
    )
    session, keys, console = make_session([ASK_BOB, "y", "/quit"], graph=graph)
    run_chat(session)
    assert "The run is paused before tools." in console.export_text()
    assert "continue? (y/n)> " in keys.prompts
    assert outbox(tmp_path) == ["bob@example.com"]


def test_answering_after_the_deadline_lets_the_policy_decide(make_session, config, tmp_path):
    stage = Stage(timeout_seconds=60, on_timeout="reject")
    policy = ApprovalPolicy(default="allow", tools={"send_email": (ToolRule(stages=(stage,)),)})
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        default_tools(config),
        policy=policy,
        checkpointer=InMemorySaver(),
    )
    now = [datetime(2030, 1, 1, 12, 0, tzinfo=UTC)]
    session, real_keys, console = make_session([ASK_BOB, "a", "/quit"], graph=graph)
    session.runner.clock = lambda: now[0]

    def slow_human(prompt):
        if prompt.plain.startswith("[a]pprove"):
            now[0] += timedelta(minutes=5)
        return real_keys(prompt)

    session.ask = slow_human
    run_chat(session)
    text = console.export_text()
    assert "decide by 2030-01-01 12:01:00 UTC (then: reject)" in text
    assert "The deadline passed before your answer, so the policy decides: reject." in text
    assert outbox(tmp_path) == []


class _DeadServer(ScriptedChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise httpx.ConnectError("[Errno 111] Connection refused")


def test_a_model_server_going_away_is_one_provider_error(make_session, config):
    graph = create_approval_agent(_DeadServer(), default_tools(config), checkpointer=InMemorySaver())
    session, _, _ = make_session(["hi"], graph=graph)
    with pytest.raises(
        ProviderUnavailableError,
        match=r"ConnectError.*hitl doctor.*resume with `hitl chat --thread cli-test`",
    ):
        run_chat(session)


def test_the_calls_of_one_turn_are_each_asked_and_decided_on_their_own(make_session, tmp_path):
    """Both calls of a turn are pending at once; the chat answers each by its interrupt id."""
    session, _, console = make_session(
        ["Send email to amy@example.com and bo@example.com", "a", "r", "not bo", "/quit"]
    )
    run_chat(session)
    assert outbox(tmp_path) == ["amy@example.com"]
    text = console.export_text()
    assert "2 requests wait on this thread." in text
    sent, rejected = tool_messages(session)
    assert sent.response_metadata["hitl"]["outcome"] == "run"
    assert rejected.response_metadata["hitl"]["outcome"] == "rejected" and "not bo" in str(rejected.content)
