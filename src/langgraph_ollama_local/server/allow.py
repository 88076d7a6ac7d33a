"""The `Allow` header of a 405: the methods the API document gives the path a URL names.

Starlette names only the methods of the first route whose path matched, and FastAPI's
included routers are no longer flat in `app.routes`; both our routes and LangGraph's
share paths (`/threads`, `/threads/{id}/state`, `/threads/{id}/runs`), so the answer is
read from the served OpenAPI document instead, which lists every method of a path, the
501 ones included. A URL that several paths match (`/threads/search` and
`/threads/{thread_id}`) names the one with the most literal segments, as OpenAPI says
(concrete paths before templated ones).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"\{[^/{}]+\}")


class AllowIndex:
    """Path templates of one OpenAPI document, most specific first, with their methods."""

    def __init__(self, paths: Mapping[str, Mapping[str, Any]]) -> None:
        entries = []
        for order, (template, item) in enumerate(paths.items()):
            methods = sorted(m.upper() for m in item if m in METHODS)
            if not methods:
                continue
            literal = sum(1 for part in template.split("/") if part and not _PARAM.search(part))
            entries.append((-literal, order, _compile(template), methods))
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        self._entries = [(pattern, methods) for _, _, pattern, methods in entries]

    def methods(self, path: str) -> list[str] | None:
        """The methods of the most specific documented path matching `path`, or None."""
        for pattern, methods in self._entries:
            if pattern.fullmatch(path):
                return methods
        return None


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))
