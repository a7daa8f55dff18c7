"""C15 and C16: what a restarted client knows about its tokens.

``refresh/restart_with_expired_token`` (C15): the client logs in, the manual clock moves two hours
ahead (past the one-hour access-token lifetime; no real waiting), and the client restarts. A client
that kept ``expires_in`` relative, in memory, cannot tell the stored token is stale: its first call
carries it and earns a 401 (with C14 on top, a browser prompt). A correct client persisted an absolute
expiry and refreshes before the call. Sources: python-sdk #3250/#3251/#3248, #1318/#1784; FastMCP #1671.

``refresh/token_endpoint_not_at_root`` (C16): the AS's token endpoint is ``/oauth2/v1/token`` (as at
Okta or HubSpot) and nothing answers at ``/token``. After a restart the access token is revoked and the
client must refresh. A client that lost the AS metadata and guesses ``{origin}/token`` gets a 404 and
never refreshes. A correct client uses the token endpoint it persisted with the tokens, or rediscovers
it. Sources: python-sdk #3240, #2492 (HubSpot).
"""

from __future__ import annotations

from typing import Any

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, CheckContext, Verdict
from suites.refresh._checks import if_client_refreshes, no_rejection_after

TOKEN_PATH = "/oauth2/v1/token"

test_restart_with_expired_token = Scenario(
    id="refresh/restart_with_expired_token",
    title="The access token expired while the client was down; the first call after restart must not 401",
    knobs={"access_token_ttl": 3600},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.advance_clock(7200),  # two hours later, on the mock's clock (the client reads it too)
        a.restart(),
        a.call_tool("echo", {"text": "after restart"}),
    ],
    checks=[
        no_rejection_after(
            "advance_clock", id="C15.fresh-token-after-restart", requirements=["C15"],
            why="the restarted client sent an access token its stored absolute expiry says is stale"),
        checks.outcome_ok("C15.call-succeeds", ["C15"]),
    ],
    needs={"refresh", "restart", "clock"},
).as_test()


def _is_refresh_elsewhere(e: Any) -> bool:
    return e.kind == "request" and e.endpoint != "token" and (
        field(e, "grant_type") == "refresh_token" or (field(e, "path") or "").rstrip("/").endswith("/token"))


@check("C16.refresh-at-advertised-endpoint", ["C16", "RFC8414-2"],
       title="refreshes go to the advertised token endpoint")
def refresh_at_advertised_endpoint(ctx: CheckContext) -> Verdict:
    wrong = [e for e in ctx.entries if _is_refresh_elsewhere(e)]
    if wrong:
        return FAIL(f"the client sent a token request to {field(wrong[0], 'path')} (#{wrong[0].seq}), not to the "
                    f"advertised token endpoint {TOKEN_PATH}: it guessed instead of using the AS metadata", wrong)
    refreshes = list(ctx.q.refresh_requests())
    if not refreshes:
        return FAIL("the client never refreshed after the restart, so the token endpoint it uses is unproven")
    return PASS(f"{len(refreshes)} refresh(es), all at {field(refreshes[0], 'path')}", refreshes)


test_token_endpoint_not_at_root = Scenario(
    id="refresh/token_endpoint_not_at_root",
    title=f"The token endpoint is {TOKEN_PATH}; after a restart the refresh must go there, not to /token",
    knobs={"token_endpoint_path": TOKEN_PATH},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.restart(),
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "after restart"}),
    ],
    checks=[
        if_client_refreshes(refresh_at_advertised_endpoint),
        if_client_refreshes(checks.no_authorize_after("harness", id="C16.no-reauthorization", requirements=["C16"],
                                                      do="revoke_tokens")),
        checks.outcome_ok("C16.call-succeeds", ["C16"]),
    ],
    needs={"refresh", "restart"},
).as_test()
