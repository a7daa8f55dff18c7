"""run_scenario against the real mock server with an in-process fake client."""

import pytest

from harness import FAIL, PASS, Scenario, checks
from harness import actions as a
from harness.model import Check
from harness.runner import excerpt, resolve_store, run_scenario

from .support import FakeAdapter


def _mcp_requests(ctx):
    n = len(ctx.q.requests("mcp"))
    return PASS(f"{n} MCP requests") if n else FAIL("no MCP request reached the server")


SEEN = Check("t.seen", ["C99"], _mcp_requests)


def scenario(**kw):
    base = dict(id="t/basic", title="basic", actions=[a.connect(), a.call_tool()], checks=[SEEN])
    base.update(kw)
    return Scenario(**base)


def test_pass_and_row_shape(tmp_path):
    rows = run_scenario(scenario(), FakeAdapter(), "2025-11-25", "memory", tmp_path)
    (r,) = rows
    assert r["status"] == "PASS" and r["client"] == "fake" and r["scenario"] == "t/basic"
    assert r["check"] == "t.seen" and r["requirements"] == ["C99"] and r["revision"] == "2025-11-25"
    assert r["duration_s"] > 0 and r["journal"] and all("seq" in e for e in r["journal"])
    assert r["store"] == "memory"


def test_missing_capability_skips_every_check(tmp_path):
    rows = run_scenario(scenario(needs={"replicas"}, checks=[SEEN, checks.outcome_ok("t.ok", ["C99"])]),
                        FakeAdapter(capabilities=frozenset({"dcr"})), "2025-11-25", "memory", tmp_path)
    assert [r["status"] for r in rows] == ["SKIP", "SKIP"]
    assert rows[0]["message"] == "client lacks capability replicas"


def test_unavailable_client_and_revision_skips(tmp_path):
    fake = FakeAdapter()
    fake.unavailable = "Node >= 22 not found"
    assert run_scenario(scenario(), fake, "2025-11-25", "memory", tmp_path)[0]["message"].endswith("Node >= 22 not found")
    rows = run_scenario(scenario(since="2026-07-28"), FakeAdapter(), "2025-11-25", "memory", tmp_path)
    assert rows[0]["status"] == "SKIP" and "not applicable" in rows[0]["message"]


def test_later_revision_check_is_skip_never_pass(tmp_path):
    late = Check("t.late", ["MCP-2026-07-28:ISS-1"], lambda ctx: PASS("would pass"))
    rows = run_scenario(scenario(checks=[SEEN, late]), FakeAdapter(), "2025-11-25", "memory", tmp_path)
    assert {r["check"]: r["status"] for r in rows} == {"t.seen": "PASS", "t.late": "SKIP"}


def test_should_failure_is_warn_and_crashing_check_fails(tmp_path):
    should = Check("t.should", ["C99"], lambda ctx: FAIL("meh"), severity="should")
    crash = Check("t.crash", ["C99"], lambda ctx: 1 / 0)
    rows = run_scenario(scenario(checks=[should, crash]), FakeAdapter(), "2025-11-25", "memory", tmp_path)
    st = {r["check"]: r for r in rows}
    assert st["t.should"]["status"] == "WARN"
    assert st["t.crash"]["status"] == "FAIL" and "crashed" in st["t.crash"]["message"]


def test_hang_is_classified_not_stuck(tmp_path):
    rows = run_scenario(scenario(timeout_s=1.0, checks=[checks.outcome_ok("t.ok", ["C99"])]),
                        FakeAdapter(mode="hang"), "2025-11-25", "memory", tmp_path)
    assert rows[0]["status"] == "FAIL" and rows[0]["outcome"]["errors"] == ["hang"]


def test_gates_and_driver_during_a_burst(tmp_path):
    sc = scenario(
        gates=[{"name": "calls", "endpoint": "mcp", "match": {"method": "tools/call"}, "max_holds": 3}],
        actions=[a.connect(), a.burst(3, during=[a.wait_gate("calls", 3), a.revoke_tokens(),
                                                 a.release_gate("calls"), a.wait_journal("token_rejected", 3)])],
        checks=[SEEN, checks.outcome_ok("t.ok", ["C99"])])
    rows = run_scenario(sc, FakeAdapter(), "2025-11-25", "memory", tmp_path)
    assert {r["check"]: r["status"] for r in rows} == {"t.seen": "PASS", "t.ok": "PASS"}, rows[1]["message"]
    marks = [e["data"]["do"] for e in rows[0]["journal"] if e["kind"] == "harness"]
    assert marks == ["wait_gate", "revoke_tokens", "release_gate", "wait_journal"]


def test_driver_gives_up_when_the_step_ends(tmp_path):
    sc = scenario(gates=[{"name": "g", "endpoint": "token"}],
                  actions=[a.call_tool(during=[a.wait_gate("g", 1, timeout_s=30)])],
                  checks=[checks.outcome_ok("t.ok", ["C99"])])
    rows = run_scenario(sc, FakeAdapter(), "2025-11-25", "memory", tmp_path)
    assert rows[0]["status"] == "FAIL"
    assert rows[0]["outcome"]["errors"][0].startswith("driver:wait_gate g")
    assert rows[0]["duration_s"] < 10


@pytest.mark.parametrize(("want", "store", "expect"), [
    ("any", "memory", "memory"), ("any", "sqlite", "sqlite:"), ("shared", "memory", "sqlite:"),
    ("redis", "memory", "sqlite:"), ("any", "redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0?prefix=h"),
])
def test_resolve_store(tmp_path, want, store, expect):
    spec, note = resolve_store(scenario(store=want), store, tmp_path)
    assert spec.startswith(expect)
    assert (note is not None) == (want == "redis" and store == "memory")


def test_excerpt_is_bounded_and_keeps_focus():
    class E:
        def __init__(self, seq):
            self.seq = seq

        def to_dict(self):
            return {"seq": self.seq, "data": {}}

    entries = [E(i) for i in range(1, 1001)]
    out = excerpt(entries, [900], limit=200)
    assert len(out) == 200 and any(e["seq"] == 900 for e in out)


class SerialAdapter(FakeAdapter):
    """Sends a burst one call at a time, like a client whose session serializes requests."""

    async def run(self, env, actions):
        from harness.model import StepResult
        from harness.script import execute

        async def step(action):
            if action["do"] == "burst":
                import httpx

                out = []
                async with httpx.AsyncClient(timeout=10) as c:
                    for _ in range(action["n"]):
                        await c.post(env.server_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                           "params": {"name": "echo"}})
                        out.append(StepResult({"do": "call_tool"}, True, "main"))
                return out
            return StepResult(action, True, "main")

        return await execute(env, actions, step)


def test_failed_precondition_skips_with_reason(tmp_path):
    sc = scenario(
        gates=[{"name": "calls", "endpoint": "mcp", "match": {"method": "tools/call"}, "max_holds": 3,
                "timeout_s": 1}],
        actions=[a.burst(3, during=[a.wait_gate("calls", 3, timeout_s=0.5, precondition=True)])],
        checks=[SEEN, checks.outcome_ok("t.ok", ["C99"])])
    rows = run_scenario(sc, SerialAdapter(), "2025-11-25", "memory", tmp_path)
    assert [r["status"] for r in rows] == ["SKIP", "SKIP"]
    assert rows[0]["message"].startswith("precondition not met with this client: wait_gate calls")
    assert "went quiet" in rows[0]["message"]
    assert rows[0]["journal"]  # the run is still shown


def test_optional_wait_is_a_quiet_window_not_an_error(tmp_path):
    sc = scenario(actions=[a.call_tool(during=[a.wait_journal("request", 99, timeout_s=0.3, optional=True)])],
                  checks=[checks.outcome_ok("t.ok", ["C99"])])
    rows = run_scenario(sc, FakeAdapter(), "2025-11-25", "memory", tmp_path)
    assert rows[0]["status"] == "PASS", rows[0]["message"]
