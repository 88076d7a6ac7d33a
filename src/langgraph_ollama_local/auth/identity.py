"""The authenticated identity every request acts as."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

SYSTEM_PREFIX = "system"
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")

Via = Literal["token", "jwt", "session"]


@dataclass(frozen=True)
class Principal:
    """A user and their roles, as proven by a token, a JWT or a session cookie.

    `user` is what the audit log records as the actor: it always comes from the
    credential, never from a request body.
    """

    user: str
    roles: frozenset[str] = field(default_factory=frozenset)
    via: Via = "token"
    token_id: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def public(self) -> dict[str, object]:
        return {"user": self.user, "roles": sorted(self.roles), "via": self.via}


def check_user_name(name: str) -> str:
    """Refuse names that could pass for the system actor or break the audit log."""
    if not _USER_NAME.match(name):
        raise ValueError(
            f"user name {name!r} is not allowed: use 1-200 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    if name.lower().startswith(SYSTEM_PREFIX):
        raise ValueError(
            f"user name {name!r} is reserved: names starting with 'system' are the service's own"
        )
    return name
