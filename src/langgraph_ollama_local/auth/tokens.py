"""API tokens: `hitl_<id>_<secret>`, random, shown once, stored only as a SHA-256 hash.

The secret has 256 bits of entropy, so a fast hash is enough (no password stretching is
needed for random keys); the id part lets the store find the row without a scan and lets
people name a token in `hitl tokens revoke` without ever showing the secret again.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "hitl_"  # noqa: S105 - a prefix, not a secret


def new_token() -> tuple[str, str]:
    """(token id, full token). Only the caller ever sees the full token."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token, else None (the token is then simply unknown)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(token_id) != 12 or not secret:
        return None
    return token_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())
