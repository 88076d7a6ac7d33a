"""`web_router()` on its own: what it serves, with which headers, and what it refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from langgraph_ollama_local.web import web_router
from langgraph_ollama_local.web.routes import STATIC

SCRIPTS = sorted(p.name for p in STATIC.glob("*.js"))


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()  # no app.state.security: the page is served without a sign-in check
    app.include_router(web_router())
    return TestClient(app)


def test_pages_carry_a_strict_content_security_policy(client):
    for path in ["/", "/login"]:
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name", [*SCRIPTS, "style.css"])
def test_static_files_are_served_with_their_types(client, name):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    expected = "text/javascript" if name.endswith(".js") else "text/css"
    assert response.headers["content-type"].startswith(expected)  # modules need a JS type under nosniff
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/static/../routes.py", "/static/%2e%2e%2froutes.py", "/static/routes.py",
                                  "/static/.hidden", "/static/nope.js", "/static/", "/static/..%5croutes.py"])
def test_nothing_outside_static_is_served(client, path):
    assert client.get(path).status_code == 404


def test_the_pages_only_load_local_module_scripts_and_no_inline_code():
    for page in ["index.html", "login.html"]:
        html = (STATIC / page).read_text()
        assert '<script type="module" src="/static/' in html
        assert "<script>" not in html and not re.search(r"\son[a-z]+\s*=", html)  # no inline handlers
        assert "http://" not in html and "https://" not in html  # offline: no CDN


def test_scripts_never_insert_data_as_html():
    for name in SCRIPTS:
        source = (STATIC / name).read_text()
        sink = re.search(r"\.(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write|\beval\(|new Function"
                         r"|createContextualFragment|DOMParser", source)
        assert sink is None, f"{name} uses {sink.group(0) if sink else ''}"


def test_package_data_glob_covers_every_static_file():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"web/static/*"' in pyproject
    assert all(p.is_file() for p in STATIC.iterdir())  # flat: the one glob is enough
