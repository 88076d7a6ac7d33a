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


class _CallLog:
    """Prompts seen, shared by a model and its `bind_tools` copies; bounded, so a
    long-running service on the scripted model (load tests, benches) does not grow."""

    def __init__(self, keep: int) -> None:
        self.keep, self.count = keep, 0
        self.prompts: list[list[BaseMessage]] = []

    def add(self, prompt: list[BaseMessage]) -> None:
        self.count += 1
        self.prompts.append(prompt)
        if len(self.prompts) > self.keep:
            del self.prompts[: len(self.prompts) - self.keep]


class ScriptedChatModel(BaseChatModel):
    """Replies with `script(messages)`, or with `responses` in order (then repeats the last)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Script | None = None
    responses: list[AIMessage] = Field(default_factory=list)
    bound_tool_names: tuple[str, ...] = ()
    keep_calls: int = Field(default=1000, ge=1, description="How many recent prompts `calls` keeps.")
    _log: _CallLog | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def _calls_log(self) -> _CallLog:
        if self._log is None:
            self._log = _CallLog(self.keep_calls)
        return self._log

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The prompts the model was given (the latest `keep_calls`), for assertions."""
        return self._calls_log.prompts

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = tuple(getattr(t, "name", None) or getattr(t, "__name__", str(t)) for t in tools)
        bound = self.model_copy(update={"bound_tool_names": names})
        bound._log = self._calls_log
        return bound

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        log = self._calls_log
        log.add(list(messages))
        if self.script is not None:
            reply = self.script(messages)
        elif self.responses:
            index = min(log.count - 1, len(self.responses) - 1)
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
