"""C07: a storm of requests needing authorization opens at most one interactive flow per (user, server).

``flows/flow_storm``: after a login the access token is revoked and there is no refresh token, so a burst
of N concurrent tool calls on one session all need interactive authorization. ``flows/flow_storm_tabs``:
N tabs connect at once to a server they have no tokens for.

A buggy client starts one flow per request (hermes-agent #103198, mcpproxy-go #50, LibreChat #12162 and
#12802): N ``/authorize`` calls, i.e. N browser tabs for one user. A correct client keeps at most one
outstanding interactive flow per (tenant, user, server); the other requests join it.

Forcing it: the storm's ``/authorize`` requests are held at a gate until N arrive or a quiet window of
``QUIET_S`` passes (a correct client sends one, so only it waits the window; a buggy one is caught the
moment its Nth request arrives). In the tabs variant the browser opens no URL before N flows were
started or joined.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.flows._checks import authorize_count_at_most, max_outstanding_authorize

N = 4
QUIET_S = 0.5

test_flow_storm = Scenario(
    id="flows/flow_storm",
    title=f"A burst of {N} tool calls needs interactive authorization at once",
    knobs={"issue_refresh_tokens": False},
    actions=[
        a.connect(),
        a.revoke_tokens(),  # no refresh token: every call of the burst needs a new interactive flow
        a.arm_gate(name="authorize", endpoint="authorize"),
        a.burst(N, "echo", {"text": "storm"}, during=[
            a.wait_gate("authorize", N, timeout_s=QUIET_S, optional=True),
            a.open_gate("authorize"),
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
