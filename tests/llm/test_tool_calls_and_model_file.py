"""Tool-call parsing of small-model output, and the model file's join + checksum."""

from __future__ import annotations

import hashlib
import threading

import pytest

from langgraph_ollama_local.llm.embedded.model_file import ensure_model_file, verify_model_file
from langgraph_ollama_local.llm.embedded.tool_calls import parse_tool_calls
from langgraph_ollama_local.llm.errors import ModelChecksumError


@pytest.mark.parametrize(
    ("text", "names", "content"),
    [
        ('<tool_call>\n{"name": "send_email", "arguments": {"to": "a@b.c"}}\n</tool_call>', ["send_email"], ""),
        ('Sure.\n<tool_call>{"name": "get_weather", "arguments": {"location": "Oslo"}}</tool_call>', ["get_weather"], "Sure."),
        ('<tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>', ["a", "b"], ""),
        ('```json\n{"name": "get_weather", "arguments": {"location": "Rome"}}\n```', ["get_weather"], ""),
        ('{"name": "get_weather", "arguments": "{\\"location\\": \\"Rome\\"}"}', ["get_weather"], ""),  # args as a JSON string
        ('[{"name": "a", "args": {}}, {"name": "b", "parameters": {}}]', ["a", "b"], ""),
        ('{"name": "send_email", "arguments": {"to": "x"}}\n{"name": "tool_response", "arguments": {}}', ["send_email", "tool_response"], ""),
        ('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>', ["rm_rf"], ""),  # unknown tool kept: the gate refuses it
        ("<tool_call>{not json</tool_call>", [], "<tool_call>{not json</tool_call>"),  # malformed stays visible text
        ('{"answer": 42}', [], '{"answer": 42}'),
        ("Just a plain answer.", [], "Just a plain answer."),
    ],
)
def test_parse_tool_calls(text, names, content):
    visible, calls = parse_tool_calls(text)
    assert [c["name"] for c in calls] == names
    assert visible == content
    assert len({c["id"] for c in calls}) == len(calls)
    assert all(isinstance(c["args"], dict) for c in calls)


def chunks(tmp_path, data: bytes, parts: int = 3):
    size = len(data) // parts + 1
    paths = []
    for i in range(parts):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths


def test_join_verifies_and_reuses_the_marker(tmp_path):
    data = b"GGUF" + bytes(range(256)) * 1000
    sha = hashlib.sha256(data).hexdigest()
    path = ensure_model_file(tmp_path / "cache", chunk_paths=chunks(tmp_path, data), expected_sha256=sha)
    assert path.read_bytes() == data
    assert path.with_name(path.name + ".verified.json").exists()
    # Second start: the chunks are not even needed; the marker matches.
    assert ensure_model_file(tmp_path / "cache", chunk_paths=[], expected_sha256=sha) == path
    # A changed file is noticed and refused.
    path.write_bytes(data[:-1] + b"X")
    with pytest.raises(ModelChecksumError, match="corrupt"):
        verify_model_file(path, expected_sha256=sha)


def test_checksum_mismatch_is_refused_and_leaves_nothing(tmp_path):
    data = b"not the model" * 100
    with pytest.raises(ModelChecksumError, match="expected"):
        ensure_model_file(tmp_path / "cache", chunk_paths=chunks(tmp_path, data), expected_sha256="0" * 64)
    leftovers = [p.name for p in (tmp_path / "cache" / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_concurrent_starts_join_once(tmp_path):
    data = bytes(range(256)) * 4000
    sha = hashlib.sha256(data).hexdigest()
    parts = chunks(tmp_path, data)
    results, errors = [], []

    def start() -> None:
        try:
            results.append(ensure_model_file(tmp_path / "cache", chunk_paths=parts, expected_sha256=sha))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and results[0].read_bytes() == data
