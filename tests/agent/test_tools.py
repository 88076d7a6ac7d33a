"""The spec's tools: `send_email` really delivers (real local SMTP or the outbox), `get_weather` is canned."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from langgraph_ollama_local.agent.mail import DeliveryReceipt, InvalidEmailError, delivery_from_config
from langgraph_ollama_local.agent.tools import default_tools, get_weather, make_send_email_tool
from langgraph_ollama_local.config import LocalAgentConfig

ARGS = {"to": "alice@example.com", "subject": "Lunch", "body": "Noon at the usual place?"}


@pytest.fixture
def smtp_config(smtp_server, tmp_path) -> LocalAgentConfig:
    host, port, _inbox = smtp_server
    return LocalAgentConfig(home=tmp_path, smtp={"host": host, "port": port, "sender": "agent@example.com"})


def tools_by_name(config: LocalAgentConfig) -> dict[str, BaseTool]:
    return {t.name: t for t in default_tools(config)}


def test_default_tools_are_send_email_then_get_weather(tmp_path):
    tools = default_tools(LocalAgentConfig(home=tmp_path))
    assert [t.name for t in tools] == ["send_email", "get_weather"]
    assert tools[0].description == "Send an email."
    assert "demo" in tools[1].description and "safe" in tools[1].description


@pytest.mark.parametrize(
    ("name", "fields"), [("send_email", {"to", "subject", "body"}), ("get_weather", {"location"})]
)
def test_argument_schemas_are_pydantic_and_validate_edits(tmp_path, name, fields):
    tool = tools_by_name(LocalAgentConfig(home=tmp_path))[name]
    schema = tool.tool_call_schema
    assert isinstance(schema, type) and issubclass(schema, BaseModel)
    assert set(schema.model_json_schema()["properties"]) == fields
    assert set(schema.model_json_schema()["required"]) == fields
    good = {f: "x@example.com" for f in fields}
    assert schema.model_validate(good).model_dump() == good
    with pytest.raises(ValidationError):
        schema.model_validate({})  # an approver's edit that drops arguments is caught
    with pytest.raises(ValidationError):
        schema.model_validate({f: ["not", "a", "string"] for f in fields})


def test_send_email_through_a_real_smtp_server(smtp_config, smtp_server):
    _host, _port, inbox = smtp_server
    send_email = tools_by_name(smtp_config)["send_email"]
    result = send_email.invoke(ARGS)
    (message,) = inbox.messages
    assert message["To"] == "alice@example.com"
    assert message["From"] == "agent@example.com"
    assert message["Subject"] == "Lunch"
    assert message.get_payload(decode=True).decode().strip() == "Noon at the usual place?"
    assert result == f"Email sent to alice@example.com (message-id {message['Message-ID']})"


def test_send_email_as_a_tool_call_returns_a_tool_message(smtp_config, smtp_server):
    send_email = tools_by_name(smtp_config)["send_email"]
    reply = send_email.invoke({"type": "tool_call", "id": "call-1", "name": "send_email", "args": ARGS})
    assert isinstance(reply, ToolMessage) and reply.tool_call_id == "call-1"
    assert str(reply.content).startswith("Email sent to alice@example.com")
    assert len(smtp_server[2].messages) == 1


def test_send_email_without_smtp_writes_to_the_outbox_and_says_so(tmp_path):
    send_email = tools_by_name(LocalAgentConfig(home=tmp_path))["send_email"]
    result = send_email.invoke(ARGS)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    # No file path in what the model (and so the user) reads; the .eml is there.
    assert result == (
        "Email to alice@example.com saved in the local outbox (no SMTP server is configured, "
        "so it did not go to a real mailbox)"
    )
    assert str(tmp_path) not in result
    parsed = message_from_bytes(eml.read_bytes())
    assert (parsed["To"], parsed["Subject"]) == ("alice@example.com", "Lunch")


def test_hostile_arguments_are_refused_and_nothing_is_sent(smtp_config, smtp_server, tmp_path):
    send_email = tools_by_name(smtp_config)["send_email"]
    # The tool's schema refuses recipients that are not addresses (the gate checks it before
    # asking anyone; the embedded model writes `to` under the same pattern)...
    with pytest.raises(ValidationError, match="pattern"):
        send_email.invoke(ARGS | {"to": "alice@example.com\nBcc: evil@x.com"})
    with pytest.raises(ValidationError, match="pattern"):
        send_email.invoke(ARGS | {"to": "everyone"})
    # ...and the mail layer refuses what the schema lets through.
    with pytest.raises(InvalidEmailError, match="line break"):
        send_email.invoke(ARGS | {"subject": "Lunch\r\nBcc: evil@x.com"})
    delivery = delivery_from_config(smtp_config)
    with pytest.raises(InvalidEmailError, match="line break"):
        delivery.deliver("alice@example.com\nBcc: evil@x.com", "s", "b")
    with pytest.raises(InvalidEmailError, match="not a valid email address"):
        delivery.deliver("everyone", "s", "b")
    assert smtp_server[2].messages == []
    assert not (tmp_path / "outbox").exists()


def test_send_email_uses_the_delivery_it_is_given():
    calls: list[tuple[str, str, str, str | None]] = []

    class Recorder:
        def deliver(
            self, to: str, subject: str, body: str, *, message_id: str | None = None
        ) -> DeliveryReceipt:
            calls.append((to, subject, body, message_id))
            return DeliveryReceipt(
                "smtp", "<m@x>", ("alice@example.com",), "smtp://mx:25", ("ghost@example.com",)
            )

    result = make_send_email_tool(Recorder()).invoke(ARGS)
    assert calls == [("alice@example.com", "Lunch", "Noon at the usual place?", None)]
    assert (
        result
        == "Email sent to alice@example.com (message-id <m@x>); the mail server refused ghost@example.com"
    )


def test_default_tools_without_a_config_read_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_HOME", str(tmp_path))
    for name in ("HITL_SMTP__HOST", "HITL_OUTBOX_DIR", "HITL_SMTP__SENDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    send_email = default_tools()[0]
    assert "local outbox" in send_email.invoke(ARGS)
    assert len(list(Path(tmp_path, "outbox").glob("*.eml"))) == 1


def test_get_weather_is_canned_and_deterministic():
    first = get_weather.invoke({"location": "Paris"})
    assert first.startswith("Weather in Paris: ")
    assert (
        first == get_weather.invoke({"location": "Paris"}) == "Weather in Paris: " + first.split(": ", 1)[1]
    )
    assert get_weather.invoke({"location": "  paris "}).split(": ", 1)[1] == first.split(": ", 1)[1]
    answers = {
        get_weather.invoke({"location": city}).split(": ", 1)[1]
        for city in ("Paris", "Oslo", "Lima", "Cairo", "Tokyo")
    }
    assert answers <= {"Sunny, 72°F", "Cloudy, 61°F", "Light rain, 55°F", "Windy, 64°F"}
    assert len(answers) > 1
