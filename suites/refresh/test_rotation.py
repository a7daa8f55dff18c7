"""C12 and C13: the refresh token a client keeps after a refresh.

``refresh/restart_between_refreshes`` (C12): rotation is on (an old refresh token is refused). The
client refreshes once (RT1 -> RT2), restarts, and must refresh again. A client that persisted only the
new access token, or kept the rotated refresh token in memory, presents RT1 after the restart and gets
``invalid_grant``: the user is sent to the browser although nothing was revoked. A correct client
persists the rotated refresh token together with the access token before using either. Sources:
QwenPaw #7053, executor #1973, dust #17840.

``refresh/response_omits_rt`` (C13): Google-style, the refresh response carries no ``refresh_token``. The
client refreshes twice. A client that overwrites its refresh token with "none" cannot refresh the second
time and goes interactive, one access-token lifetime after login. RFC 6749 section 6: keep the old one.
Sources: hermes-agent #106185 (Google, Zoho, Asana), activepieces #14450.

Each refresh is triggered by revoking the access tokens (the RS answers 401 while the client's expiry
says valid), so no real time passes.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.refresh._checks import if_client_refreshes, refreshes_present_latest_rt

test_restart_between_refreshes = Scenario(
    id="refresh/restart_between_refreshes",
    title="Rotation on; refresh, restart, refresh: the second refresh must present the rotated refresh token",
    knobs={"rotate_refresh_tokens": True, "reuse_policy": "reject"},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "first refresh"}),  # RT1 -> RT2
        a.restart(),
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "second refresh"}),  # must present RT2
    ],
    checks=[
        if_client_refreshes(refreshes_present_latest_rt(id="C12.rotated-rt-used", requirements=["C12", "RFC6749-6"],
                                                        at_least=2)),
        checks.no_event("reuse_detected", id="C12.no-reuse", requirements=["C12"],
                        why="the client presented a refresh token the AS had already rotated out"),
        if_client_refreshes(checks.no_authorize_after("harness", id="C12.no-reauthorization", requirements=["C12"],
                                                      do="revoke_tokens")),
        checks.outcome_ok("C12.calls-succeed", ["C12"]),
    ],
    needs={"refresh", "restart"},
).as_test()

test_response_omits_rt = Scenario(
    id="refresh/response_omits_rt",
    title="The refresh response omits refresh_token (Google); the second refresh must reuse the old one",
    preset="google",
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "first refresh"}),  # the response has no refresh_token
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "second refresh"}),  # must present the original RT again
    ],
    checks=[
        if_client_refreshes(refreshes_present_latest_rt(id="C13.old-rt-kept", requirements=["C13", "RFC6749-6"],
                                                        at_least=2)),
        if_client_refreshes(checks.no_authorize_after("harness", id="C13.no-reauthorization", requirements=["C13"],
                                                      do="revoke_tokens")),
        checks.outcome_ok("C13.calls-succeed", ["C13"]),
    ],
    needs={"refresh"},
).as_test()
