"""Staged JSON objects (llm/embedded/staged.py): the fixed text is ours, values are sampled.

Pure tests with a scripted sampler; the real model's side is in test_embedded_model.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from langgraph_ollama_local.llm.embedded.staged import (
    Stage,
    object_stages,
    stage_grammar,
    value_end,
    write_object,
)

PLAN = {
    "type": "object",
    "properties": {
        "request": {"type": "string", "maxLength": 120},
        "steps": {"type": "array", "items": {"type": "string", "enum": ["get_weather", "send_email"]}},
    },
    "required": ["request", "steps"],
}


def test_an_object_of_required_properties_is_staged_in_schema_order():
    stages = object_stages(PLAN)
    assert stages is not None
    assert [s.fixed for s in stages] == ['{"request":', ', "steps":', "}"]
    assert stages[0].schema == PLAN["properties"]["request"]
    assert stages[-1].schema is None


def test_what_cannot_be_staged_keeps_the_one_grammar_path():
    optional = {**PLAN, "required": ["request"]}
    assert object_stages(optional) is None  # whether to write `steps` is the model's choice
    assert object_stages({"type": "object", "properties": {}}) is None
    assert object_stages({"type": "array"}) is None
    assert object_stages({**PLAN, "anyOf": [{}]}) is None
    assert object_stages(None) is None


def test_a_value_ends_where_nothing_can_extend_it():
    assert value_end(' "Paris"') == 8
    assert value_end(' "Paris",') == 8  # the model's `",` token: the comma is ours to write
    assert value_end('"say \\"hi\\""') == 12
    assert value_end(' ["get_weather"]}') == 16
    assert value_end("[]") == 2
    assert value_end(" true") == 5
    assert value_end(' "Par') is None
    assert value_end('"say \\"') is None  # an escaped quote does not close the string
    assert value_end('["get_weather", ') is None
    assert value_end(" 12") is None  # a number may go on...
    assert value_end(" 12}") == 3  # ...until something else follows it
    assert value_end("") is None
    assert value_end("  ") is None


def test_a_stage_grammar_lets_the_value_end_in_the_text_that_follows_it():
    value = 'root ::= "\\"" [a-z]+ "\\"" space\nspace ::= " "?'
    grammar = stage_grammar(value, ', "steps":')
    assert grammar.splitlines()[0] == 'root ::= " "? staged-value ", \\"steps\\":"'
    assert 'staged-value ::= "\\"" [a-z]+' in grammar


class ScriptedSampler:
    """Hands out scripted token texts per stage; records each prompt and how many were taken."""

    def __init__(self, *values: list[str], finish: str = "stop") -> None:
        self.values = list(values)
        self.finish = finish
        self.prompts: list[str] = []
        self.tails: list[str] = []
        self.taken: list[int] = []

    def __call__(
        self, prompt: str, schema: Mapping[str, Any], tail: str, budget: int
    ) -> Iterator[tuple[str, str | None]]:
        self.prompts.append(prompt)
        self.tails.append(tail)
        pieces = self.values.pop(0)
        self.taken.append(0)
        for piece in pieces[:budget]:
            self.taken[-1] += 1
            yield piece, None
        yield "", self.finish if len(pieces) <= budget else "length"


def test_the_object_is_the_json_a_one_grammar_run_writes():
    # The values end in tokens that run into the fixed text (`",`, `"]}`), as the models'
    # do; whatever was scripted after a value's end is never taken.
    sampler = ScriptedSampler([' "the', " weather", '",', "IGNORED"], [' ["get', "_weather", '"]}', "\n"])
    result = write_object("PROMPT", object_stages(PLAN) or (), sampler, max_tokens=64)
    assert result.text == json.dumps({"request": "the weather", "steps": ["get_weather"]})
    assert result.finish_reason == "stop"
    assert sampler.taken == [3, 3]  # nothing sampled after a value closed
    assert result.completion_tokens == 6
    # The model sees our fixed text before each value, after everything written so far, and
    # each stage's grammar may run into the text that follows its value.
    assert sampler.prompts == ['PROMPT{"request":', 'PROMPT{"request": "the weather", "steps":']
    assert sampler.tails == [', "steps":', "}"]


def test_a_number_ends_when_its_grammar_does():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    sampler = ScriptedSampler([" 1", "2"])
    result = write_object("", object_stages(schema) or (), sampler, max_tokens=8)
    assert json.loads(result.text) == {"n": 12}


def test_a_value_cut_by_the_token_budget_leaves_an_unfinished_object():
    sampler = ScriptedSampler([' "a', " very", " long"])
    result = write_object("", object_stages(PLAN) or (), sampler, max_tokens=2)
    assert result.finish_reason == "length"
    assert result.text == '{"request": "a very'
    assert len(sampler.prompts) == 1  # nothing more is asked for once the budget is spent


def test_a_single_stage_object():
    stages = (Stage('{"location":', {"type": "string"}), Stage("}", None))
    result = write_object("", stages, ScriptedSampler([' "Oslo"}']), max_tokens=8)
    assert json.loads(result.text) == {"location": "Oslo"}
