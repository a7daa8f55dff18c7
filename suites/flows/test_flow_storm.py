"""C07: a storm of requests needing authorization opens at most one interactive flow per (user, server).

``flows/flow_storm``: after a login the access token is revoked and there is no refresh token, so a burst
of N concurrent tool calls on one session all need interactive authorization. ``flows/flow_storm_tabs``:
N tabs connect at once to a server they have no tokens for.

A buggy client starts one flow per request (hermes-agent #103198, mcpproxy-go #50, LibreChat #12162 and
#12802): N ``/authorize`` calls, i.e. N browser tabs for one user. A correct client keeps at most one
outstanding interactive flow per (tenant, user, server); the other requests join it.

Forcing it: the N tool calls are parked at a gate until all are in flight with one access token, which
the harness then revokes and releases them together, so every call gets its 401 at the same moment and
needs a flow before any flow can finish. In the tabs variant the browser opens no URL before N flows
were started or joined.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.flows._checks import authorize_count_at_most, max_outstanding_authorize

N = 4

test_flow_storm = Scenario(
    id="flows/flow_storm",
    title=f"A burst of {N} tool calls needs interactive authorization at once",
    knobs={"issue_refresh_tokens": False},  # no refresh token: every call needs a new interactive flow
    actions=[
        a.connect(),
        a.arm_gate(name="calls", endpoint="mcp", match={"method": "tools/call"}, max_holds=N),
        a.burst(N, "echo", {"text": "storm"}, during=[
            # all N calls are in flight with one access token; then it is revoked and they are let go
            # together, so each gets its 401 at the same moment (a client sending one call at a time SKIPs)
            a.wait_gate("calls", N, timeout_s=10, precondition=True),
            a.revoke_tokens(),
            a.release_gate("calls"),
        ]),
    ],
    checks=[
        authorize_count_at_most(1, id="C07.one-authorize-per-storm", requirements=["C07"], after="revoke_tokens",
                                what=f"for {N} concurrent calls "),
        max_outstanding_authorize(1, id="C07.one-outstanding-flow", requirements=["C07"]),
        checks.outcome_ok("C07.burst-succeeds", ["C07"]),
    ],
    markers=("race",),
).as_test()

test_flow_storm_tabs = Scenario(
    id="flows/flow_storm_tabs",
    title=f"{N} tabs connect at once with no tokens",
    user_agent={"hold_until_flows": N},
    actions=[a.open_tabs(N)],
    checks=[
        authorize_count_at_most(1, id="C07.one-authorize-per-storm", requirements=["C07"], what=f"for {N} tabs "),
        max_outstanding_authorize(1, id="C07.one-outstanding-flow", requirements=["C07"]),
        checks.outcome_ok("C07.tabs-succeed", ["C07"]),
    ],
    needs={"tabs", "callbacks"},
    markers=("race",),
).as_test()
