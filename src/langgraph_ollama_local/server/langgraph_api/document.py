"""What the OpenAPI document says of LangGraph's routes that depends on the served graph."""

from __future__ import annotations

from typing import Any


def name_assistants(document: dict[str, Any], assistant_ids: list[str]) -> dict[str, Any]:
    """A run's `assistant_id` is one of the served graph's names (its graph id or the uuid
    derived from it): publish them as the enum, so a client following the document sends
    one that exists; any other is still a 404 naming both. Path parameters stay free text:
    `/assistants/{assistant_id}` also routes `/assistants/search`."""
    body = document.get("components", {}).get("schemas", {}).get("RunBody")
    if body is not None:
        body["properties"]["assistant_id"]["enum"] = list(assistant_ids)
    return document
