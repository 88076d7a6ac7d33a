"""`ScriptedChatModel`: a LangChain chat model whose replies come from a function or list."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, Field, PrivateAttr

Script = Callable[[Sequence[BaseMessage]], AIMessage]


def tool_call(name: str, args: dict[str, Any], call_id: str | None = None) -> ToolCall:
    return ToolCall(name=name, args=args, id=call_id or f"call_{uuid.uuid4().hex[:12]}", type="tool_call")


class ScriptedChatModel(BaseChatModel):
    """Replies with `script(messages)`, or with `responses` in order (then repeats the last)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Script | None = None
    responses: list[AIMessage] = Field(default_factory=list)
    bound_tool_names: tuple[str, ...] = ()
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """Every prompt the model was given, for assertions."""
        return self._calls

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = tuple(getattr(t, "name", None) or getattr(t, "__name__", str(t)) for t in tools)
        bound = self.model_copy(update={"bound_tool_names": names})
        bound._calls = self._calls
        return bound

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._calls.append(list(messages))
        if self.script is not None:
            reply = self.script(messages)
        elif self.responses:
            index = min(len(self._calls) - 1, len(self.responses) - 1)
            reply = self.responses[index]
        else:
            reply = AIMessage(content="")
        reply = reply.model_copy(update={"id": reply.id or f"ai-{uuid.uuid4().hex[:12]}"})
        return ChatResult(generations=[ChatGeneration(message=reply)])


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_WEATHER = re.compile(r"weather (?:in|for) ([A-Za-z .'-]+?)(?:[?.!,]|$| and)", re.IGNORECASE)


def email_assistant_script(messages: Sequence[BaseMessage]) -> AIMessage:
    """A predictable stand-in for the tutorial's assistant.

    A user turn mentioning an address asks to `send_email` to it; "weather in X" asks
    `get_weather`; after tool results it reports them; otherwise it chats.
    """
    last = messages[-1]
    if isinstance(last, ToolMessage):
        results = []
        for message in reversed(messages):
            if not isinstance(message, ToolMessage):
                break
            results.append(str(message.content))
        return AIMessage(content="Done. " + " ".join(reversed(results)))
    if isinstance(last, HumanMessage):
        text = str(last.content)
        calls = []
        for address in _EMAIL.findall(text):
            calls.append(
                tool_call("send_email", {"to": address, "subject": "Hello", "body": f"Message: {text}"})
            )
        for place in _WEATHER.findall(text):
            calls.append(tool_call("get_weather", {"location": place.strip()}))
        if calls:
            return AIMessage(content="", tool_calls=calls)
        return AIMessage(content=f"You said: {text}")
    return AIMessage(content="Okay.")
