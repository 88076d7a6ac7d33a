"""Bearer JWTs from an OIDC provider, verified with PyJWT (signature, exp, iss, aud).

Keys come from the provider's JWKS URL (cached by `PyJWKClient`), a PEM public key file,
or a shared HS256 secret for tests and small setups. Roles are read from a configurable
claim (a list, or a space-separated string like OAuth scopes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt

from langgraph_ollama_local.auth.identity import Principal, check_user_name

MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash output


class JwtConfigError(ValueError):
    """The JWT settings cannot verify anything (no key source, unreadable key)."""


class JwtRejected(Exception):
    """This token does not verify; the message says why without echoing the token."""


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str | None,
        audience: str | None,
        jwks_url: str | None = None,
        public_key_file: Path | None = None,
        secret: str | None = None,
        algorithms: list[str] | None = None,
        user_claim: str = "sub",
        roles_claim: str = "roles",
        leeway_seconds: float = 30.0,
    ) -> None:
        sources = [s for s in (jwks_url, public_key_file, secret) if s]
        if len(sources) != 1:
            raise JwtConfigError(
                "set exactly one of auth.jwt_jwks_url, auth.jwt_public_key_file, auth.jwt_secret"
            )
        if jwks_url and not (issuer and audience):
            missing = " and ".join(
                n for n, v in (("auth.jwt_issuer", issuer), ("auth.jwt_audience", audience)) if not v
            )
            raise JwtConfigError(
                f"a JWKS URL needs {missing}: the identity provider signs tokens for every app it "
                "serves, so without both any of its tokens would be accepted here; set "
                "HITL_AUTH__JWT_ISSUER and HITL_AUTH__JWT_AUDIENCE to this service's values"
            )
        if secret and len(secret.encode()) < MIN_SECRET_BYTES:
            raise JwtConfigError(
                f"auth.jwt_secret has {len(secret.encode())} bytes; HS256 needs at least "
                f"{MIN_SECRET_BYTES} (a short secret can be guessed offline from one token): make one "
                "with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` and give it to the "
                "identity provider too"
            )
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._key: Any = None
        if public_key_file:
            try:
                self._key = Path(public_key_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise JwtConfigError(
                    f"cannot read auth.jwt_public_key_file {public_key_file}: {exc}"
                ) from exc
        elif secret:
            self._key = secret
        default_algs = ["HS256"] if secret else ["RS256", "ES256", "EdDSA"]
        self.algorithms = algorithms or default_algs
        self.issuer, self.audience = issuer, audience
        self.user_claim, self.roles_claim, self.leeway = user_claim, roles_claim, leeway_seconds

    @staticmethod
    def looks_like_jwt(token: str) -> bool:
        return token.count(".") == 2 and token.startswith("eyJ")

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise JwtRejected(f"bearer JWT rejected: {type(exc).__name__}: {exc}") from exc
        user = claims.get(self.user_claim)
        if not isinstance(user, str):
            raise JwtRejected(f"bearer JWT has no string claim {self.user_claim!r} to name the user")
        try:
            check_user_name(user)
        except ValueError as exc:
            raise JwtRejected(str(exc)) from exc
        raw = claims.get(self.roles_claim, [])
        roles = (
            raw.split()
            if isinstance(raw, str)
            else [r for r in raw if isinstance(r, str)]
            if isinstance(raw, list)
            else []
        )
        return Principal(user=user, roles=frozenset(roles), via="jwt")
