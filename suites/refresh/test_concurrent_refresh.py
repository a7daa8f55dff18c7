"""C08: a burst of N concurrent calls behind one 401 must redeem the refresh token exactly once.

Trigger: N tool calls are in flight with the same access token when it is revoked, so every one of them
gets a 401. Knobs: rotation on, reuse detection revokes the whole family, no grace window (Auth0 with
leeway 0); the preset variants repeat the burst under each real AS's rotation rules.

Forcing the race: a request gate parks the N calls until all are in flight; the harness revokes the
access token and releases them together, so every call sees a 401. A response gate holds the first
refresh after the AS has rotated, until all N 401s are in.

A buggy client (no single-flight refresh) sends the old refresh token again for every call; under reuse
detection the AS revokes the family, including the refresh token just issued, and the session dies.
A correct client refreshes once, keyed by (issuer, client_id, refresh token), and retries the other
calls with the new token. Sources: typescript-sdk #1760 (fix #2757), python-sdk #3243, LibreChat #14583,
opencode #34074. @modelcontextprotocol/sdk 1.32.2 has this bug.

A client that never has N calls in flight at once (mcp 2.3.0 serializes requests behind one lock) cannot
be raced this way: the precondition wait fails and every check SKIPs with that reason.
"""

from __future__ import annotations

from typing import Any

from harness import Scenario, checks
from harness import actions as a
from suites.refresh._checks import single_redemption

N = 4


def _burst_scenario(id: str, title: str, *, knobs: dict[str, Any] | None = None, preset: str | None = None,
                    family_check: bool = True) -> Scenario:
    checks_ = [
        single_redemption(id="C08.single-refresh-redemption", requirements=["C08", "RFC6749-6"]),
        checks.outcome_ok("C08.burst-succeeds", ["C08"]),
    ]
    if family_check:
        checks_.insert(1, checks.no_event(
            "family_revoked", id="C08.no-family-revoked", requirements=["C08", "RFC6819-5.2.2.3"],
            why="a refresh token was redeemed twice, so the AS revoked every token of the family"))
    return Scenario(
        id=id,
        title=title,
        knobs=knobs or {},
        preset=preset,
        gates=[
            {"name": "calls", "endpoint": "mcp", "match": {"method": "tools/call"}, "max_holds": N},
            {"name": "refresh", "endpoint": "token", "match": {"grant_type": "refresh_token"},
             "phase": "response", "max_holds": 1},
        ],
        actions=[
            a.connect(),
            a.burst(N, "echo", {"text": "burst"}, during=[
                # all N calls are in flight with the same access token; a client that sends one call at a
                # time cannot be raced this way (the scenario SKIPs for it, with the reason)
                a.wait_gate("calls", N, timeout_s=5, precondition=True),
                a.revoke_tokens(),
                a.release_gate("calls"),
                a.wait_journal("token_rejected", N),  # every call got its 401
                a.wait_gate("refresh", 1),  # the first refresh has rotated; its response is held
                a.release_gate("refresh"),
            ]),
        ],
        checks=checks_,
        needs={"refresh"},
        markers=("race",),
    )


test_concurrent_refresh_burst = _burst_scenario(
    "refresh/concurrent_refresh_burst",
    f"{N} concurrent calls hit one 401 under rotation with reuse detection (grace 0)",
    knobs={"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "none", "grace_s": 0},
).as_test()

# The same burst under real ASs' rotation rules where they change what a double redemption looks like.
# Inside a grace window (okta) or without reuse detection (entra) it does no visible damage, so only the
# redemption count judges the client there; entra also refuses ``resource`` on refresh (the retry without
# it happens under the single-flight lock); google omits the refresh token from the response. (auth0 with
# leeway 0 is the scenario above; gotrue and keycloak add nothing a single process can show.)
test_concurrent_refresh_burst_okta = _burst_scenario(
    "refresh/concurrent_refresh_burst_okta", f"{N} concurrent calls hit one 401 (Okta rotation, 30 s grace)",
    preset="okta", family_check=False).as_test()
test_concurrent_refresh_burst_entra = _burst_scenario(
    "refresh/concurrent_refresh_burst_entra",
    f"{N} concurrent calls hit one 401 (Entra: new RT on every use, resource refused on refresh)",
    preset="entra", family_check=False).as_test()
test_concurrent_refresh_burst_google = _burst_scenario(
    "refresh/concurrent_refresh_burst_google", f"{N} concurrent calls hit one 401 (Google: no RT in the response)",
    preset="google", family_check=False).as_test()
