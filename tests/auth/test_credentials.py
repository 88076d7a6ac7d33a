"""API tokens in a real store, and JWT verification with PyJWT (HS256 and RS256)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from langgraph_ollama_local.auth.jwt import JwtConfigError, JwtRejected, JwtVerifier
from langgraph_ollama_local.auth.tokens import hash_token, token_id_of
from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.store.schema import api_tokens
from langgraph_ollama_local.store.tokens import TokenStore


async def test_tokens_are_stored_hashed_and_revocation_is_immediate(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        tokens, now = TokenStore(store.engine), datetime.now(UTC)
        record, token = await tokens.create("bob", ["approver", "approver", " "], created_by="cli:test", now=now)
        assert record.roles == ("approver",) and token_id_of(token) == record.id
        async with store.engine.connect() as conn:
            stored = (await conn.execute(select(api_tokens))).one()
        assert token not in str(tuple(stored)) and stored.token_hash == hash_token(token)
        assert (await tokens.authenticate(token, now)).user == "bob"
        assert await tokens.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"), now) is None
        assert await tokens.authenticate("hitl_nothex_x", now) is None
        assert await tokens.authenticate("not a token", now) is None
        await tokens.revoke(record.id, revoked_by="cli:test", now=now)
        assert await tokens.authenticate(token, now) is None
        assert await tokens.count_active(now) == 0
        actions = [e.action for e in await store.audit_entries()]
        assert actions.count("token.created") == 1 and actions.count("token.revoked") == 1
    finally:
        await store.close()


async def test_expired_tokens_are_refused(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        tokens, now = TokenStore(store.engine), datetime.now(UTC)
        _, token = await tokens.create("eve", ["approver"], created_by="cli:test", now=now, expires_in=timedelta(hours=1))
        assert await tokens.authenticate(token, now + timedelta(minutes=59)) is not None
        assert await tokens.authenticate(token, now + timedelta(hours=2)) is None
    finally:
        await store.close()


def _claims(**over):
    return {"sub": "dana", "roles": ["approver"], "iss": "https://idp", "aud": "hitl", "exp": int(time.time()) + 300, **over}


def test_jwt_hs256_roles_and_rejections():
    verifier = JwtVerifier(issuer="https://idp", audience="hitl", secret="s3cret-key-of-enough-length-32bytes!")
    ok = jwt.encode(_claims(), "s3cret-key-of-enough-length-32bytes!", algorithm="HS256")
    principal = verifier.verify(ok)
    assert principal.user == "dana" and principal.roles == {"approver"} and principal.via == "jwt"
    scoped = verifier.verify(jwt.encode(_claims(roles="approver admin"), "s3cret-key-of-enough-length-32bytes!"))
    assert scoped.roles == {"approver", "admin"}
    for bad in (
        jwt.encode(_claims(), "another-secret-of-enough-length-32b!"),
        jwt.encode(_claims(exp=int(time.time()) - 3600), "s3cret-key-of-enough-length-32bytes!"),
        jwt.encode(_claims(iss="https://evil"), "s3cret-key-of-enough-length-32bytes!"),
        jwt.encode(_claims(aud="other"), "s3cret-key-of-enough-length-32bytes!"),
        jwt.encode(_claims(sub="system:deadline"), "s3cret-key-of-enough-length-32bytes!"),
        jwt.encode(_claims(), key=None, algorithm="none"),
    ):
        with pytest.raises(JwtRejected):
            verifier.verify(bad)


def test_jwt_rs256_public_key_file(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "idp.pem").write_bytes(pem)
    verifier = JwtVerifier(issuer="https://idp", audience="hitl", public_key_file=tmp_path / "idp.pem")
    assert verifier.verify(jwt.encode(_claims(), key, algorithm="RS256")).user == "dana"
    # HS256 signed with the public key (algorithm confusion) must not verify.
    with pytest.raises(JwtRejected):
        verifier.verify(jwt.encode(_claims(), "x" * 32, algorithm="HS256"))


def test_weak_jwt_setups_are_refused_with_the_fix():
    with pytest.raises(JwtConfigError, match=r"needs auth\.jwt_issuer and auth\.jwt_audience"):
        JwtVerifier(issuer=None, audience=None, jwks_url="https://idp/jwks")
    with pytest.raises(JwtConfigError, match=r"needs auth\.jwt_audience"):
        JwtVerifier(issuer="https://idp", audience=None, jwks_url="https://idp/jwks")
    with pytest.raises(JwtConfigError, match=r"5 bytes; HS256 needs at least 32.*secrets\.token_urlsafe"):
        JwtVerifier(issuer="https://idp", audience="hitl", secret="short")
    JwtVerifier(issuer="https://idp", audience="hitl", jwks_url="https://idp/jwks")  # both set: fine


def test_serve_refuses_a_short_hs256_secret_at_start_up(tmp_path):
    import os
    import subprocess

    from tests.conftest import free_port
    from tests.server.support import HITL

    refused = subprocess.run(
        [str(HITL), "serve", "--port", str(free_port()), "--db", f"sqlite:///{tmp_path}/x.db"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "HITL_HOME": str(tmp_path), "HITL_AUTH__JWT_SECRET": "12345",
             "HITL_AUTH__JWT_ISSUER": "https://idp", "HITL_AUTH__JWT_AUDIENCE": "hitl"},
    )  # fmt: skip
    assert refused.returncode == 2 and "HS256 needs at least 32" in refused.stderr


def test_jwt_needs_exactly_one_key_source(tmp_path):
    with pytest.raises(JwtConfigError):
        JwtVerifier(issuer=None, audience=None)
    with pytest.raises(JwtConfigError):
        JwtVerifier(issuer=None, audience=None, secret="a", jwks_url="https://idp/jwks")


def test_jwt_keys_from_a_jwks_url(tmp_path):
    """The OIDC way: the verifier fetches the issuer's JWKS (served here by a local HTTP server)."""
    import json
    import threading
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/jwks.json"
        verifier = JwtVerifier(issuer="https://idp", audience="hitl", jwks_url=url)
        token = jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": "k1"})
        assert verifier.verify(token).roles == {"approver"}
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(JwtRejected):
            verifier.verify(jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "k1"}))
    finally:
        server.shutdown()
