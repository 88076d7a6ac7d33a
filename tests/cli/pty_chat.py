"""`hitl chat` for the pty test: the real command, with a stand-in model that writes a long
story slowly (so Ctrl-C lands mid-answer) and otherwise acts as the scripted email assistant.

Run as a script: `python tests/cli/pty_chat.py chat --db …`; the words it wrote go to the
file named by PTY_CHAT_WORDS, one per line, so the test can see that generation stopped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

import langgraph_ollama_local.llm as llm
from langgraph_ollama_local.llm import ProviderChoice
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script


class SlowStoryteller(ScriptedChatModel):
    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:  # fmt: skip
        if "story" not in str(messages[-1].content):  # the scripted reply, in one chunk
            reply = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
            calls = [{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                     for i, c in enumerate(getattr(reply, "tool_calls", []))]  # fmt: skip
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=reply.content, id=reply.id, tool_call_chunks=calls)
            )
            return
        with open(os.environ["PTY_CHAT_WORDS"], "a") as log:
            for index in range(400):
                word = f"w{index} "
                log.write(word + "\n")
                log.flush()
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=word, id="story"))
                if run_manager is not None:
                    run_manager.on_llm_new_token(word, chunk=chunk)
                yield chunk
                time.sleep(0.05)  # a model on a small CPU: about 20 tokens a second


llm.resolve_provider = lambda config: ProviderChoice("ollama", "stand-in for the pty test")  # type: ignore[assignment]
llm.create_chat_model = lambda config, choice=None: SlowStoryteller(script=email_assistant_script)  # type: ignore[assignment]

if __name__ == "__main__":
    from langgraph_ollama_local.cli.app import main

    main()
