"""Greedy grammar sampling that checks the best token first, as llama.cpp's own tools do.

Why: llama-cpp-python runs the grammar over the whole vocabulary before every token
(151,646 tokens for Qwen), and on 2 cores that doubled the 0.5B model's time per token
(measured: 22 → 44 ms; the 1.5B 45 → 65 ms). llama.cpp's `common_sampler` avoids it by
sampling first and asking the grammar about that one token, falling back to the whole
vocabulary only when the grammar refuses it. Under greedy decoding (temperature 0, no
penalties: our default) this picks exactly the token the full pass would — the most likely
token, if the grammar allows it, is also the most likely allowed token — so outputs do not
change, only the time. Any other sampling setting keeps llama-cpp-python's own chain.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class GreedyGrammarSampler:
    """A drop-in for llama-cpp-python's `LlamaSampler` (its `sample(ctx, idx)`) for greedy
    decoding under a grammar: argmax first, the grammar on that one token, the whole
    vocabulary only when it is refused."""

    def __init__(self, vocab: Any, grammar: Any, n_vocab: int) -> None:
        import llama_cpp

        self._llama_cpp: Any = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._sampler:
            raise ValueError("llama.cpp could not compile the grammar")
        self._n_vocab = n_vocab
        self._one: Any = (llama_cpp.llama_token_data * 1)()
        self._all: Any = None
        self.sampled = 0  # tokens sampled, and how often the grammar refused the best one
        self.full_passes = 0

    def _apply(self, data: Any, size: int) -> None:
        array = self._llama_cpp.llama_token_data_array(data=data, size=size, selected=-1, sorted=False)
        self._llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(array))

    def sample(self, ctx: Any, idx: int = -1) -> int:
        self.sampled += 1
        pointer = self._llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = int(np.argmax(logits))
        self._one[0].id, self._one[0].logit, self._one[0].p = token, float(logits[token]), 0.0
        self._apply(self._one, 1)
        if not np.isneginf(self._one[0].logit):
            self.accept(token)
            return token
        self.full_passes += 1
        if self._all is None:
            self._all = (self._llama_cpp.llama_token_data * self._n_vocab)()
        table = np.frombuffer(self._all, dtype=_TOKEN_DATA)
        table["id"] = _token_ids(self._n_vocab)
        table["logit"] = logits
        table["p"] = 0.0
        self._apply(self._all, self._n_vocab)  # the grammar only sets refused logits to -inf
        token = int(table["id"][int(np.argmax(table["logit"]))])
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        self._llama_cpp.llama_sampler_accept(self._sampler, token)

    def reset(self) -> None:
        self._llama_cpp.llama_sampler_reset(self._sampler)

    def __del__(self) -> None:
        sampler, self._sampler = getattr(self, "_sampler", None), None
        if sampler:
            self._llama_cpp.llama_sampler_free(sampler)


@functools.lru_cache(maxsize=4)
def _token_ids(n_vocab: int) -> Any:
    return np.arange(n_vocab, dtype=np.intc)


def is_plain_greedy(settings: dict[str, Any]) -> bool:
    """Whether `_init_sampler`'s settings are greedy with nothing else in the chain."""
    return (
        settings.get("temp") == 0.0
        and settings.get("mirostat_mode", 0) == 0
        and settings.get("repeat_penalty", 1.0) == 1.0
        and settings.get("frequency_penalty", 0.0) == 0.0
        and settings.get("presence_penalty", 0.0) == 0.0
        and settings.get("logits_processor") is None
    )


@functools.cache
def llama_class() -> type:
    """`llama_cpp.Llama` whose greedy grammar sampling checks the best token first."""
    from llama_cpp import Llama

    class CheckFirstLlama(Llama):
        def _init_sampler(self, *args: Any, **settings: Any) -> Any:
            grammar = settings.get("grammar")
            if grammar is not None and not args and is_plain_greedy(settings):
                return GreedyGrammarSampler(self._model.vocab, grammar, self._n_vocab)
            return super()._init_sampler(*args, **settings)

    return CheckFirstLlama
