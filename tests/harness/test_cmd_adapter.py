"""The cmd adapter with a tiny fake client script (tests/harness/fake_client.py)."""

import json

from client_under_test.adapters.cmd import CmdAdapter
from client_under_test.adapters.process import parse_outcome_line
from harness import Scenario, checks
from harness import actions as a
from harness.model import Check, Verdict
from harness.runner import run_scenario

from .support import FAKE_CMD


def _actors(ctx):
    actors = sorted({e.actor for e in ctx.q.requests("mcp") if e.actor})
    return Verdict("INFO", ",".join(actors))


ACTORS = Check("t.actors", [], _actors, severity="info")


def runs(tmp_path):
    return [json.loads(line) for line in (tmp_path / "state" / "runs.jsonl").read_text().splitlines()]


def test_segments_share_state_dir_and_harness_actions_run_between(tmp_path):
    sc = Scenario(id="t/cmd", title="cmd", actions=[
        a.connect(), a.call_tool(), a.advance_clock(60), a.call_tool(), a.restart(), a.call_tool()],
        checks=[checks.outcome_ok("t.ok", ["C99"]), ACTORS])
    rows = run_scenario(sc, CmdAdapter(FAKE_CMD), "2025-11-25", "memory", tmp_path)
    assert rows[0]["status"] == "PASS", rows[0]["message"]
    assert [r["actions"] for r in runs(tmp_path)] == [["connect", "call_tool"], ["call_tool"], ["call_tool"]]
    assert {r["scenario"] for r in runs(tmp_path)} == {"t/cmd"}
    kinds = [e["kind"] for e in rows[0]["journal"]]
    assert "clock_advanced" in kinds or "harness" in kinds


def test_replicas_are_separate_processes_with_their_own_actor(tmp_path):
    sc = Scenario(id="t/replicas", title="r", actions=[a.replicas(3, steps=[a.connect(), a.call_tool()])],
                  checks=[checks.outcome_ok("t.ok", ["C99"]), ACTORS], store="shared")
    rows = run_scenario(sc, CmdAdapter(FAKE_CMD), "2025-11-25", "memory", tmp_path)
    st = {r["check"]: r for r in rows}
    assert st["t.ok"]["status"] == "PASS"
    assert st["t.actors"]["message"] == "replica-1,replica-2,replica-3"
    assert sorted(r["actor"] for r in runs(tmp_path)) == ["replica-1", "replica-2", "replica-3"]
    assert st["t.ok"]["store"].startswith("sqlite:")


def test_exit_code_without_outcome_and_failed_outcome(tmp_path, monkeypatch):
    sc = Scenario(id="t/exit", title="e", actions=[a.connect()], checks=[checks.outcome_ok("t.ok", ["C99"])])
    monkeypatch.setenv("FAKE_MODE", "exit3")
    rows = run_scenario(sc, CmdAdapter(FAKE_CMD), "2025-11-25", "memory", tmp_path / "a")
    assert rows[0]["status"] == "FAIL" and "exit:3" in rows[0]["message"]
    monkeypatch.setenv("FAKE_MODE", "fail")
    rows = run_scenario(sc, CmdAdapter(FAKE_CMD), "2025-11-25", "memory", tmp_path / "b")
    assert "authorization_failed:invalid_grant" in rows[0]["message"]
    monkeypatch.setenv("FAKE_MODE", "stdout")
    rows = run_scenario(sc, CmdAdapter(FAKE_CMD), "2025-11-25", "memory", tmp_path / "c")
    assert rows[0]["status"] == "PASS"


def test_a_hanging_process_is_killed(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    sc = Scenario(id="t/hang", title="h", actions=[a.connect()], checks=[checks.outcome_ok("t.ok", ["C99"])])
    rows = run_scenario(sc, CmdAdapter(FAKE_CMD), "2025-11-25", "memory", tmp_path, step_timeout_s=1.0)
    assert rows[0]["status"] == "FAIL" and "timeout" in rows[0]["message"]


def test_capabilities_from_environment(monkeypatch):
    monkeypatch.setenv("MCP_HARNESS_CMD_CAPABILITIES", "dcr,refresh")
    assert CmdAdapter("x").capabilities == frozenset({"dcr", "refresh"})


def test_outcome_line_parsing():
    assert parse_outcome_line('noise\n{"ok": true, "steps": []}\n') == {"ok": True, "steps": []}
    assert parse_outcome_line('MCP_CONFORMANCE_OUTCOME {"ok": false}') == {"ok": False}
    assert parse_outcome_line('{"not": "an outcome"}\n') is None


def test_substeps_stand_for_their_step_and_error_objects_give_their_class():
    from client_under_test.adapters.process import outcome_from_dict

    out = outcome_from_dict({"ok": False, "steps": [
        {"do": "connect", "ok": True},
        {"do": "open_tabs", "ok": False, "error": {"code": "authorization_failed", "message": "denied",
                                                    "class": "authorization_failed:access_denied"},
         "substeps": [{"action": {"do": "tab"}, "actor": "tab-1", "ok": False,
                       "error": {"class": "authorization_failed:access_denied", "message": "denied"}},
                      {"action": {"do": "connect"}, "actor": "tab-2", "ok": True}]}]}, "main")
    assert [(s.action["do"], s.actor, s.error) for s in out.steps] == [
        ("connect", "main", None), ("tab", "tab-1", "authorization_failed:access_denied"), ("connect", "tab-2", None)]
    assert out.steps[1].detail == "denied"
