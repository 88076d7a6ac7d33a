"""A stable fingerprint of one tool call, so an approval is bound to exactly what runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def call_digest(name: str, args: Mapping[str, Any]) -> str:
    """sha256 over tool name + args; an edit yields a new digest."""
    payload = canonical_json({"name": name, "args": dict(args)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
