"""C08: a burst of N concurrent calls behind one 401 must redeem the refresh token exactly once.

Knobs: rotation on, reuse detection revokes the whole family, no grace window (Auth0 with leeway 0). A
request gate parks the N tool calls until all are in flight, the harness revokes the access token and
releases them together, so every call sees a 401. A response gate holds the first refresh after the AS
has rotated, until all N 401s are in: a client without single-flight refresh sends the old refresh token
again, which the AS treats as reuse and answers by revoking the family. @modelcontextprotocol/sdk 1.32.2
does exactly that.
"""

from harness import Scenario, checks
from harness import actions as a

N = 4

test_concurrent_refresh_burst = Scenario(
    id="refresh/concurrent_refresh_burst",
    title=f"{N} concurrent calls hit one 401 under rotation with reuse detection (grace 0)",
    knobs={"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "none", "grace_s": 0},
    gates=[
        {"name": "calls", "endpoint": "mcp", "match": {"method": "tools/call"}, "max_holds": N},
        {"name": "refresh", "endpoint": "token", "match": {"grant_type": "refresh_token"}, "phase": "response",
         "max_holds": 1},
    ],
    actions=[
        a.connect(),
        a.burst(N, "echo", {"text": "burst"}, during=[
            # all N calls are in flight with the same access token; a client that sends one call at a time
            # cannot be raced this way (the scenario SKIPs for it, with the reason)
            a.wait_gate("calls", N, timeout_s=5, precondition=True),
            a.revoke_tokens(),
            a.release_gate("calls"),
            a.wait_journal("token_rejected", N),  # every call got its 401
            a.wait_gate("refresh", 1),  # the first refresh has rotated; its response is held
            a.release_gate("refresh"),
        ]),
    ],
    checks=[
        checks.no_refresh_token_redeemed_twice(id="C08.single-refresh-redemption",
                                               requirements=["C08", "RFC6749-6"]),
        checks.no_event("family_revoked", id="C08.no-family-revoked", requirements=["C08", "RFC6819-5.2.2.3"],
                        why="a refresh token was redeemed twice, so the AS revoked every token of the family"),
        checks.outcome_ok("C08.burst-succeeds", ["C08"]),
    ],
    needs={"refresh"},
    markers=("race",),
).as_test()
