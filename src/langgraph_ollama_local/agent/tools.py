"""The tutorial's tools: `send_email` (sensitive, really delivers) and `get_weather` (safe)."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, tool

from langgraph_ollama_local.agent.mail import EmailDelivery, delivery_from_config
from langgraph_ollama_local.config import LocalAgentConfig


def make_send_email_tool(delivery: EmailDelivery) -> BaseTool:
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an email."""
        receipt = delivery.deliver(to, subject, body)
        if receipt.transport == "outbox":
            return (
                f"Email to {to} written to the local outbox at {receipt.location} "
                "(no SMTP server configured, so it was not sent to a real mailbox)"
            )
        return f"Email sent to {to} (message-id {receipt.message_id})"

    return StructuredTool.from_function(send_email, name="send_email")


@tool
def get_weather(location: str) -> str:
    """Get the weather for a location (a demo tool with canned answers; safe to run)."""
    conditions = ("Sunny, 72°F", "Cloudy, 61°F", "Light rain, 55°F", "Windy, 64°F")
    return f"Weather in {location}: {conditions[sum(map(ord, location.lower())) % len(conditions)]}"


def default_tools(config: LocalAgentConfig | None = None) -> list[BaseTool]:
    """[send_email, get_weather], with email delivered as `config` says."""
    config = config or LocalAgentConfig()
    return [make_send_email_tool(delivery_from_config(config)), get_weather]
