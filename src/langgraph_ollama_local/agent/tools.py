"""The tutorial's tools: `send_email` (sensitive, really delivers) and `get_weather` (safe).

Both are `StructuredTool`s with pydantic argument schemas, so an approver's edited
arguments can be validated against `tool.tool_call_schema` before the call runs.
"""

from __future__ import annotations

from typing import Annotated

from langchain_core.tools import BaseTool, InjectedToolArg, StructuredTool, tool
from pydantic import BaseModel, Field

from langgraph_ollama_local.agent.guided import PLAN_EXAMPLES_KEY
from langgraph_ollama_local.agent.mail import (
    DeliveryReceipt,
    EmailDelivery,
    delivery_from_config,
    message_id_for,
)
from langgraph_ollama_local.approvals.provenance import KEY_ARGS_METADATA
from langgraph_ollama_local.approvals.summary import SUMMARY_METADATA
from langgraph_ollama_local.config import LocalAgentConfig


def describe_receipt(receipt: DeliveryReceipt) -> str:
    """What the model (and the user) is told: sent for real, or only written to the outbox."""
    to = ", ".join(receipt.recipients)
    if receipt.transport == "outbox":
        # No file path: the model would repeat it to the user; `hitl doctor` names the outbox.
        return (
            f"Email to {to} saved in the local outbox (no SMTP server is configured, so it "
            "did not go to a real mailbox)"
        )
    text = f"Email sent to {to} (message-id {receipt.message_id})"
    if receipt.refused:
        text += f"; the mail server refused {', '.join(receipt.refused)}"
    return text


# One address or several, comma-separated. Also the grammar the embedded model writes `to`
# under, so it cannot put a word where an address goes.
# (`[.]`, not `\.`: llama-cpp-python's schema-to-grammar converter writes `\.` as an escape
# that llama.cpp's grammar parser refuses.)
_ADDRESS = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}"
RECIPIENTS_PATTERN = rf"^{_ADDRESS}(, ?{_ADDRESS})*$"


class SendEmailArgs(BaseModel):
    """Arguments of `send_email`, as the model sees them and an approver edits them."""

    to: str = Field(
        description="Recipient email address(es): every address the user named, comma-separated.",
        pattern=RECIPIENTS_PATTERN,
    )
    subject: str = Field(description="Subject line.")
    body: str = Field(description="The message text.")
    idempotency_key: Annotated[str | None, InjectedToolArg] = None


def make_send_email_tool(delivery: EmailDelivery) -> BaseTool:
    """The spec's `send_email(to, subject, body)`, delivering through `delivery`.

    Invalid or hostile arguments raise `InvalidEmailError` and transport failures raise
    `EmailDeliveryError`, before or instead of a false "sent" (the tools node reports
    either back to the model).
    """

    def send_email(
        to: str, subject: str, body: str, idempotency_key: Annotated[str | None, InjectedToolArg] = None
    ) -> str:
        """Send an email."""
        # The executor passes its ledger key: a repeat after a crash gets the same
        # Message-ID, which the outbox (and downstream mail systems) recognise.
        message_id = message_id_for(idempotency_key) if idempotency_key else None
        return describe_receipt(delivery.deliver(to, subject, body, message_id=message_id))

    return StructuredTool.from_function(
        send_email,
        name="send_email",
        args_schema=SendEmailArgs,
        metadata={
            # Every recipient must come from the user (see approvals/provenance.py).
            KEY_ARGS_METADATA: ["to"],
            # The inbox's one line (approvals/summary.py).
            SUMMARY_METADATA: 'Email to {to} — "{subject}"',
            PLAN_EXAMPLES_KEY: [
                {
                    "message": "Email ann@corp.com that I am running late",
                    "request": "an email to ann@corp.com",
                    "steps": ["send_email"],
                },
                {
                    "message": "Check the weather in Oslo and email it to tom@x.org",
                    "request": "the weather in Oslo, emailed to tom@x.org",
                    "steps": ["get_weather", "send_email"],
                },
            ],
        },
    )


_CONDITIONS = ("Sunny, 72°F", "Cloudy, 61°F", "Light rain, 55°F", "Windy, 64°F")


@tool
def get_weather(location: str) -> str:
    """Get the weather for a location (a demo tool with canned answers; safe to run)."""
    key = " ".join(location.lower().split())
    return f"Weather in {location.strip()}: {_CONDITIONS[sum(map(ord, key)) % len(_CONDITIONS)]}"


get_weather.metadata = {
    PLAN_EXAMPLES_KEY: [
        {"message": "Is it sunny in Rome?", "request": "the weather in Rome", "steps": ["get_weather"]}
    ]
}


def default_tools(config: LocalAgentConfig | None = None) -> list[BaseTool]:
    """[send_email, get_weather], with email delivered as `config` says (SMTP or outbox)."""
    config = config or LocalAgentConfig()
    return [make_send_email_tool(delivery_from_config(config)), get_weather]
