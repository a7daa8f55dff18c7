"""``python -m client_under_test``: the official conformance client contract plus the documented extras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client_under_test.__main__ import USAGE, main, revision_for, tool_arguments
from mock_as import Knobs
from mock_as.server import MockServer


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "MCP_CONFORMANCE_CONTEXT" in capsys.readouterr().out
    assert main([]) == 2
    assert USAGE in capsys.readouterr().err


def test_revision_and_arguments() -> None:
    assert revision_for("auth/2025-03-26-oauth-endpoint-fallback", {}) == "2025-03-26"
    assert revision_for("auth/metadata-default", {}) == "2025-11-25"
    assert revision_for("x", {"revision": "2026-07-28"}) == "2026-07-28"

    class Tool:
        input_schema = {"type": "object", "required": ["text", "a", "flag"],
                        "properties": {"text": {"type": "string"}, "a": {"type": "number"},
                                       "flag": {"type": "boolean"}}}

    assert tool_arguments(Tool()) == {"text": "hi", "a": 1, "flag": True}


def _run(url: str, context: dict, scenario: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MCP_CONFORMANCE_SCENARIO": scenario, "MCP_CONFORMANCE_CONTEXT": json.dumps(context)}
    return subprocess.run([sys.executable, "-m", "client_under_test", url], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])


def test_actions_restart_and_outcome_json(tmp_path: Path) -> None:
    with MockServer(knobs=Knobs(rotate_refresh_tokens=True)) as srv:
        proc = _run(srv.mcp_url, {
            "outcome_json": True, "state_dir": str(tmp_path), "actor": "replica-7", "retry_backoff_s": 0,
            "actions": [{"do": "connect"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "a"}},
                        {"do": "burst", "n": 3, "name": "echo", "arguments": {"text": "b"}},
                        {"do": "restart"}, {"do": "call_tool", "name": "add_numbers"}]})
        assert proc.returncode == 0, proc.stderr
        outcome = json.loads(proc.stdout.strip().splitlines()[-1])
        assert outcome["ok"] and [s["do"] for s in outcome["steps"]] == [
            "connect", "call_tool", "burst", "restart", "call_tool"]
        assert outcome["steps"][-1]["result"] == {"tool": "add_numbers", "content": ["2"]}
        assert (tmp_path / "store.sqlite3").exists()
        consents = [e for e in srv.journal.entries() if e.kind == "consent"]
        assert len(consents) == 1  # the restart reused the persisted tokens
        assert {e.actor for e in srv.journal.entries("request") if e.endpoint == "mcp"} == {"replica-7"}


def test_failure_is_one_line_on_stderr() -> None:
    with MockServer(knobs=Knobs(consent="deny")) as srv:
        proc = _run(srv.mcp_url, {})
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "access_denied" in proc.stderr


def test_open_tabs_user_agent_and_keep_going(tmp_path: Path) -> None:
    with MockServer() as srv:
        proc = _run(srv.mcp_url, {
            "outcome_json": True, "state_dir": str(tmp_path), "actor": "main", "keep_going": True,
            "user_agent": {"deny": True},
            "actions": [{"do": "open_tabs", "n": 2}, {"do": "list_tools"}]})
        denied = json.loads(proc.stdout.strip().splitlines()[-1])
        proc = _run(srv.mcp_url, {
            "outcome_json": True, "state_dir": str(tmp_path), "actor": "main", "user_agent": {"hold_until_flows": 2},
            "actions": [{"do": "open_tabs", "n": 2}]})
        tabs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [s["do"] for s in denied["steps"]] == ["open_tabs", "list_tools"]  # keep_going: the second step ran
    assert {s["error"]["class"] for s in denied["steps"]} == {"authorization_failed:access_denied"}
    assert {s["actor"] for s in denied["steps"][0]["substeps"]} == {"tab-1", "tab-2"}
    assert tabs["ok"], tabs
    assert [(s["actor"], s["do"]) for s in tabs["steps"][0]["substeps"]] == [
        ("tab-1", "connect"), ("tab-1", "call_tool"), ("tab-2", "connect"), ("tab-2", "call_tool")]
    kinds = [e["kind"] for e in tabs["user_agent"]]
    assert kinds.count("open") == 1 and "hold_timeout" not in kinds  # one flow, opened once both tabs were in
