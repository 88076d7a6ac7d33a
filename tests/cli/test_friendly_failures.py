"""`hitl serve|worker|doctor` fail in one line that says the fix, before any token or login
link exists; `--debug` shows the traceback; `hitl --version`; `hitl tokens` at 80 columns,
by id prefix, and a warning for a token without a role."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from langgraph_ollama_local.approvals.errors import PolicyError
from langgraph_ollama_local.cli.app import app
from langgraph_ollama_local.cli.common import UsageError
from langgraph_ollama_local.cli.tokens import one_token
from langgraph_ollama_local.store.tokens import TokenRecord

runner = CliRunner()
TYPO_POLICY = "tools:\n  send_emial: require_approval\n"


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("HITL_POLICY_FILE", "HITL_STORAGE_URL", "HITL_PROVIDER", "HITL_SMTP__HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HITL_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def nothing_was_issued(result, home) -> None:
    assert not (home / "admin-token").exists()
    assert "login#code=" not in result.output and "No API token existed" not in result.output


@pytest.mark.parametrize(
    ("policy_text", "expected"),
    [(None, "cannot read policy file"), ("tools:\n  send_email: [\n", "does not parse"), (TYPO_POLICY, "send_emial")],
    ids=["missing", "malformed", "unknown-tool"],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_bad_policy_file_is_one_line_before_any_token(home, command, policy_text, expected):
    policy = home / "policy.yaml"
    if policy_text is not None:
        policy.write_text(policy_text)
    result = runner.invoke(app, [command, "--policy", str(policy)])
    line = one_error_line(result)
    assert expected in line and "hitl policy check" in line
    nothing_was_issued(result, home)


def test_doctor_names_the_policy_problem_and_its_fix(home):
    result = runner.invoke(app, ["doctor", "--provider", "embedded", "--policy", str(home / "nope.yaml")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "✗ policy" in result.output and "cannot read policy file" in result.output
    assert "fix: fix the file (`hitl policy check FILE`" in result.output


BAD_URLS = [
    ("postgresql://nope:5432/x", "the host name in the URL is not known here"),
    ("foo://", "storage_url 'foo://' is not supported"),
    ("postgresql://a b@/", "not a valid PostgreSQL URL"),
]


@pytest.mark.parametrize(("url", "expected"), BAD_URLS)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_bad_storage_url_is_one_line_before_any_token(home, command, url, expected):
    result = runner.invoke(app, [command, "--db", url])
    assert expected in one_error_line(result)
    nothing_was_issued(result, home)


def test_doctor_says_what_is_wrong_with_the_storage_url(home):
    """A URL the settings refuse stops doctor in one line; one that parses is a failed check."""
    assert "storage_url 'foo://' is not supported" in one_error_line(runner.invoke(app, ["doctor", "--db", "foo://"]))
    url, expected = BAD_URLS[0]
    result = runner.invoke(app, ["doctor", "--provider", "embedded", "--db", url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "✗ storage" in result.output and expected in result.output


def test_a_port_in_use_is_named_with_the_option_to_pick_another(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    line = one_error_line(result)
    assert f"port {port} on 127.0.0.1 is already in use" in line and f"--port {port + 1}" in line
    nothing_was_issued(result, home)


def test_debug_shows_the_traceback(home):
    missing = str(home / "missing.yaml")
    for args in (["--debug", "serve", "--policy", missing], ["serve", "--debug", "--policy", missing]):
        result = runner.invoke(app, args)
        assert isinstance(result.exception, PolicyError), result.output
    # …and the next invocation in the same process is back to one line.
    assert "cannot read policy file" in one_error_line(runner.invoke(app, ["serve", "--policy", missing]))


def test_version_is_the_installed_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"hitl (langgraph-ollama-local) {version('langgraph-ollama-local')}"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_tokens_fit_80_columns_take_a_prefix_and_warn_without_a_role(home, backend, request):
    db = f"sqlite:///{home}/tokens.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    bare = runner.invoke(app, ["tokens", "create", "viewer", "--db", db, "-q"])
    assert bare.exit_code == 0, bare.output
    assert "warning: token" in bare.stderr and "has no role, so it can do nothing but read viewer's own threads" in bare.stderr
    assert "--role approver" in bare.stderr
    note = "for the finance dashboard, rotated every quarter by the operations team"
    long = runner.invoke(app, ["tokens", "create", "a-rather-long-user-name", "-r", "approver", "-r", "manager",
                               "-r", "finance", "--note", note, "--expires-days", "30", "--db", db, "-q"])  # fmt: skip
    assert long.exit_code == 0 and "warning" not in long.stderr
    ids = [token.split("_")[1] for token in (bare.stdout.strip(), long.stdout.strip())]

    listed = runner.invoke(app, ["tokens", "list", "--db", db], env={"COLUMNS": "80"})
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert max(len(line) for line in lines) <= 80, listed.output
    assert all(any(i in line for line in lines) for i in ids)  # whole ids, never cut
    assert "rotated every" in listed.output and "(none)" in listed.output and "active until" in listed.output

    unknown = runner.invoke(app, ["tokens", "revoke", "zz", "--db", db])
    assert "no API token has an id starting with 'zz'" in one_error_line(unknown)
    revoked = runner.invoke(app, ["tokens", "revoke", ids[0][:5], "--db", db])
    assert revoked.exit_code == 0 and f"token {ids[0]} of viewer revoked" in revoked.output
    again = runner.invoke(app, ["tokens", "list", "--db", db], env={"COLUMNS": "80"})
    row = next(line for line in again.output.splitlines() if ids[0] in line)
    assert "revoked" in row and "revoked" not in listed.output


def test_an_ambiguous_prefix_names_the_candidates():
    def record(token_id: str, user: str) -> TokenRecord:
        return TokenRecord(token_id, user, (), datetime.now(UTC), "test")

    records = [record("ab12cd34ef56", "ann"), record("ab98cd34ef56", "bob"), record("c0ffee000000", "cy")]
    with pytest.raises(UsageError, match=r"2 tokens have ids starting with 'ab': ab12cd34ef56 \(ann\), ab98"):
        one_token(records, "ab")
    assert one_token(records, "ab1").user == "ann" and one_token(records, "c0ffee000000").user == "cy"
    with pytest.raises(UsageError, match="no API token"):
        one_token(records, "")
