"""schemathesis against the served OpenAPI document, with valid auth, on a real server.

Checks: `--checks all` — no 5xx, every status code and content type documented, every
response body valid against its documented schema, schema-valid requests accepted (ST202:
the thread-id rule is the published pattern; ours-or-LangGraph's run body is a oneOf),
`Allow` on 405 lists every method of the path (ST205), an undocumented method is a 405 (the
LangGraph routes we do not implement are documented as 501s). `/events` is excluded (an
endless SSE stream). The number
of examples per operation is HITL_FUZZ_EXAMPLES (default 30; the long mode uses more).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.server.support import launch

CHECKS = "all"  # unsupported_method, positive_data_acceptance, allow_header_conformance included


def test_schemathesis_finds_nothing(tmp_path, capsys):
    svc = launch(tmp_path, graph="scripted_graph.py:graph", policy=None,
                 users={"fuzz": ("admin", "approver", "requester")},
                 env={"HITL_AUTH__DECISION_RATE": "100000/minute"})
    try:
        st = Path(sys.executable).with_name("schemathesis")
        examples = os.environ.get("HITL_FUZZ_EXAMPLES", "30")
        # 501 is the documented answer for LangGraph API features we do not implement
        # (server/langgraph_api/): named, never a crash. Every other 5xx still fails.
        # `--checks all` includes a response-time check (10 s by default): its limit is the request
        # timeout, so it asserts nothing a loaded machine can break (speed is measured in bench/).
        (tmp_path / "schemathesis.toml").write_text(
            '[checks]\nmax_response_time = 30\n\n'
            '[checks.not_a_server_error]\nexpected-statuses = ["2xx", "3xx", "4xx", "501"]\n')
        result = subprocess.run(
            [str(st), "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{svc.base}/openapi.json", "-H", f"Authorization: Bearer {svc.tokens['fuzz']}",
             "--checks", CHECKS, "--exclude-path", "/events", "--max-examples", examples, "--seed", "20261125",
             "--request-timeout", "30"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )
        summary = re.search(r"(\d+) generated, (.*)", result.stdout)
        with capsys.disabled():
            print(f"\nschemathesis: {summary.group(0) if summary else 'no summary'} (max {examples} examples/operation)")
        assert result.returncode == 0, result.stdout[-12000:]
        assert summary and int(summary.group(1)) > 100 and "passed" in summary.group(2)
        # every operation but the SSE stream was exercised
        operations = sum(len(ops) for path, ops in httpx.get(f"{svc.base}/openapi.json").json()["paths"].items()
                         if path != "/events")
        tested = re.search(r"Tested: (\d+)", result.stdout)
        assert tested and int(tested.group(1)) == operations, (tested and tested.group(0), operations)
    finally:
        svc.stop()
    assert "Traceback" not in next(tmp_path.glob("serve-*.log")).read_text()
