"""C18: a pending response must not hold the auth lock; a concurrent tool call goes through.

Two tool calls start at once on one session. A request gate parks each call at the resource server, so
the first call's response stays pending (as behind a long SSE stream or a slow tool). A client that holds
its auth lock across the request (until the response arrives) cannot even send the second call: only one
call is ever parked, and real users see every tool call stall behind a stream. A correct client holds the
lock only while choosing the bearer token, so both calls reach the server. Sources: python-sdk #1326,
#3209, #2847.

The wait for the second call is a bounded quiet window (2 s): a correct client fills it at once, a buggy
one is judged when it expires. (The mock never holds a GET stream's response, so the pending response is
a tool call's.)
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, CheckContext, Verdict


@check("C18.concurrent-call-not-blocked", ["C18"], title="a second call reaches the server while one is pending")
def concurrent_call_not_blocked(ctx: CheckContext) -> Verdict:
    held = list(ctx.q.of("gate_held", gate="pending"))
    released = ctx.q.of("gate_released", gate="pending").first()
    if not held:
        return FAIL("no tool call reached the resource server, so the scenario did not run")
    before = [e for e in held if released is None or e.seq < released.seq]
    if len(before) < 2:
        return FAIL("the second tool call never reached the server while the first one's response was pending: "
                    "the client holds its auth lock across the request and response", held,
                    [e.seq for e in held[:1]])
    return PASS(f"{len(before)} tool calls were in flight at once (max waiting "
                f"{max(field(e, 'waiting') or 0 for e in before)})", before)


test_stream_holds_lock = Scenario(
    id="refresh/stream_holds_lock",
    title="While one tool call's response is pending, a concurrent call must still reach the server",
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.arm_gate(name="pending", endpoint="mcp", match={"method": "tools/call"}, max_holds=2),
        a.burst(2, "echo", {"text": "concurrent"}, during=[
            a.wait_gate("pending", 2, timeout_s=2),  # quiet window: a correct client fills it at once
            a.release_gate("pending"),
        ]),
    ],
    checks=[
        concurrent_call_not_blocked,
        checks.outcome_ok("C18.calls-succeed", ["C18"]),
    ],
    needs=set(),
    markers=("race",),
).as_test()
