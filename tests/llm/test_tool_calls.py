"""`parse_tool_calls`: every shape a small model writes calls in, and what must stay text."""

from __future__ import annotations

import json
import re

import pytest

from langgraph_ollama_local.llm.embedded.tool_calls import parse_tool_calls

TOOLS = ["send_email", "get_weather"]


def names(calls):
    return [c["name"] for c in calls]


def test_single_qwen_tool_call():
    text = '<tool_call>\n{"name": "send_email", "arguments": {"to": "a@b.c", "subject": "Hi", "body": "x"}}\n</tool_call>'
    content, calls = parse_tool_calls(text, TOOLS)
    assert content == ""
    assert calls == [
        {
            "name": "send_email",
            "args": {"to": "a@b.c", "subject": "Hi", "body": "x"},
            "id": calls[0]["id"],
            "type": "tool_call",
        }
    ]


def test_multiple_qwen_tool_calls_keep_their_order():
    text = (
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Oslo"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "send_email", "arguments": {"to": "x@y.z", "subject": "s", "body": "b"}}\n</tool_call>'
    )
    content, calls = parse_tool_calls(text, TOOLS)
    assert content == ""
    assert names(calls) == ["get_weather", "send_email"]
    assert calls[0]["args"] == {"location": "Oslo"}


def test_ids_are_fresh_and_unique():
    text = '<tool_call>{"name": "get_weather", "arguments": {"location": "A"}}</tool_call>' * 3
    _, first = parse_tool_calls(text, TOOLS)
    _, second = parse_tool_calls(text, TOOLS)
    ids = [c["id"] for c in first + second]
    assert len(set(ids)) == 6
    assert all(re.fullmatch(r"call_[0-9a-f]{32}", i) for i in ids)


def test_text_before_and_after_a_call_stays_visible():
    text = 'Let me check.\n<tool_call>{"name": "get_weather", "arguments": {"location": "Rome"}}</tool_call>\nOne moment.'
    content, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather"]
    assert content == "Let me check.\nOne moment."


def test_unterminated_tag_at_the_end_still_counts():
    content, calls = parse_tool_calls(
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Rome"}}', TOOLS
    )
    assert content == "" and calls[0]["args"] == {"location": "Rome"}


def test_back_to_back_tags_without_closing_tags():
    text = '<tool_call>{"name": "get_weather", "arguments": {"location": "A"}}<tool_call>{"name": "get_weather", "arguments": {"location": "B"}}'
    _, calls = parse_tool_calls(text, TOOLS)
    assert [c["args"]["location"] for c in calls] == ["A", "B"]


def test_tagged_call_without_arguments_is_a_no_argument_call():
    _, calls = parse_tool_calls('<tool_call>{"name": "list_inbox"}</tool_call>', ["list_inbox"])
    assert calls[0]["name"] == "list_inbox" and calls[0]["args"] == {}


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "get_weather", "arguments": {"location": "Rome"}}}',  # one brace too many
        '{"name": "get_weather", "arguments": {"location": "Rome"}',  # one brace short (hit the stop)
    ],
)
def test_tagged_call_tolerates_brace_slips(body):
    _, calls = parse_tool_calls(f"<tool_call>{body}</tool_call>", TOOLS)
    assert calls[0]["args"] == {"location": "Rome"}


def test_bare_json_object():
    content, calls = parse_tool_calls('{"name": "get_weather", "arguments": {"location": "Paris"}}', TOOLS)
    assert content == "" and names(calls) == ["get_weather"]


def test_bare_json_list_with_every_argument_key_spelling():
    text = json.dumps(
        [
            {"name": "get_weather", "arguments": {"location": "A"}},
            {"name": "get_weather", "args": {"location": "B"}},
            {"name": "get_weather", "parameters": {"location": "C"}},
        ]
    )
    _, calls = parse_tool_calls(text, TOOLS)
    assert [c["args"]["location"] for c in calls] == ["A", "B", "C"]


def test_bare_json_objects_written_one_after_another():
    text = '{"name": "get_weather", "arguments": {"location": "A"}}\n{"name": "send_email", "arguments": {"to": "b"}}'
    content, calls = parse_tool_calls(text, TOOLS)
    assert content == "" and names(calls) == ["get_weather", "send_email"]


def test_bare_json_inside_prose():
    text = 'I will call {"name": "get_weather", "arguments": {"location": "Lima"}} for you.'
    content, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather"]
    assert content == "I will call\nfor you."


@pytest.mark.parametrize("fence", ["```json", "```", "```JSON"])
def test_fenced_json(fence):
    text = (
        f'Here you go:\n{fence}\n{{"name": "get_weather", "arguments": {{"location": "Rome"}}}}\n```\nDone.'
    )
    content, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather"] and calls[0]["args"] == {"location": "Rome"}
    assert content == "Here you go:\nDone."


def test_fenced_json_list():
    text = '```json\n[{"name": "get_weather", "args": {"location": "A"}}, {"name": "send_email", "args": {"to": "b"}}]\n```'
    _, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather", "send_email"]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "get_weather", "arguments": "{\\"location\\": \\"Rome\\"}"}</tool_call>',
        '{"name": "get_weather", "arguments": "{\\"location\\": \\"Rome\\"}"}',
        '```json\n{"name": "get_weather", "args": "{\\"location\\": \\"Rome\\"}"}\n```',
    ],
)
def test_arguments_given_as_a_json_string_are_decoded(text):
    _, calls = parse_tool_calls(text, TOOLS)
    assert calls[0]["args"] == {"location": "Rome"}


def test_openai_style_function_wrapper():
    text = '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"location\\": \\"Rome\\"}"}}'
    _, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather"] and calls[0]["args"] == {"location": "Rome"}


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "delete_everything", "arguments": {"path": "/"}}</tool_call>',
        '{"name": "delete_everything", "arguments": {"path": "/"}}',
        '```json\n{"name": "delete_everything", "arguments": {"path": "/"}}\n```',
    ],
)
def test_unknown_tools_are_kept_exactly_as_named(text):
    """The approval gate refuses unknown tools visibly; the parser must not hide them."""
    content, calls = parse_tool_calls(text, TOOLS)
    assert content == ""
    assert names(calls) == ["delete_everything"] and calls[0]["args"] == {"path": "/"}


def test_known_and_unknown_calls_together():
    text = (
        '<tool_call>{"name": "get_weather", "arguments": {"location": "A"}}</tool_call>'
        '<tool_call>{"name": "Get_Weather", "arguments": {"location": "B"}}</tool_call>'
    )
    _, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather", "Get_Weather"]  # never "corrected"


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>{not json</tool_call>",
        '<tool_call>{"name": "get_weather", "arguments": {"location": </tool_call>',
        '<tool_call>{"arguments": {"location": "Rome"}}</tool_call>',  # no name
        '<tool_call>{"name": 42, "arguments": {}}</tool_call>',  # name not a string
        '<tool_call>{"name": "get_weather", "arguments": "not json"}</tool_call>',
        '<tool_call>{"name": "get_weather", "arguments": [1, 2]}</tool_call>',  # args not an object
        "<tool_call></tool_call>",
        '```json\n{"name": "get_weather", "arguments": {\n```',
        '{"name": "get_weather", "arguments": {"location": "Rome"}',  # bare and unclosed
        "{{{{[[[",
    ],
)
def test_malformed_calls_stay_visible_text_and_never_raise(text):
    content, calls = parse_tool_calls(text, TOOLS)
    assert calls == []
    assert content == text.strip()


def test_a_malformed_block_next_to_a_good_one():
    text = '<tool_call>{oops</tool_call>\n<tool_call>{"name": "get_weather", "arguments": {"location": "A"}}</tool_call>'
    content, calls = parse_tool_calls(text, TOOLS)
    assert names(calls) == ["get_weather"]
    assert content == "<tool_call>{oops</tool_call>"


@pytest.mark.parametrize(
    "text",
    [
        "Just a plain answer.",
        '{"answer": 42}',  # JSON, but not a call
        '{"name": "Alice", "age": 30}',  # has a name but no arguments key: data, not a call
        '```json\n{"name": "Alice"}\n```',
        '{"result": {"name": "get_weather", "arguments": {}}}',  # a call-shaped value inside other data
        'function f() { return {"a": 1}; }',
        "```python\nprint({'name': 'x'})\n```",
        "",
    ],
)
def test_text_that_is_not_a_call(text):
    content, calls = parse_tool_calls(text, TOOLS)
    assert calls == [] and content == text.strip()


def test_surrounding_whitespace_is_trimmed_and_tool_names_do_not_filter():
    content, calls = parse_tool_calls('\n\n  {"name": "x", "arguments": {}}  \n', ())
    assert content == "" and names(calls) == ["x"]
