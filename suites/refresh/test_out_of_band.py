"""C17: after another tab refreshes, this tab's next request must carry the new access token.

The main session logs in and calls a tool. The access token is revoked; then a second tab of the same
client connects, gets a 401 and refreshes. Then the main session calls again. A client that keeps the
access token in memory per connection sends the old, revoked token (a 401, and under rotation possibly
a reused refresh token). A correct client reads the shared store on every request, so the first request
after any refresh, wherever it happened, carries the new token. Sources: mcpproxy-go #295, LibreChat
#14659. Access tokens are opaque here (``jwt_access_tokens=False``) so the journal can tell them apart.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.refresh._checks import request_after_refresh_carries_new_token

test_out_of_band_refresh = Scenario(
    id="refresh/out_of_band_refresh",
    title="Another tab refreshes; the main session's next request must carry the new access token",
    knobs={"jwt_access_tokens": False},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.revoke_tokens(),
        a.open_tabs(1, steps=[a.connect()]),  # tab-1 gets a 401 and refreshes
        a.call_tool("echo", {"text": "after the other tab refreshed"}),
    ],
    checks=[
        request_after_refresh_carries_new_token("main", id="C17.next-request-carries-new-token",
                                                requirements=["C17"]),
        checks.outcome_ok("C17.calls-succeed", ["C17"]),
    ],
    needs={"refresh", "tabs"},
).as_test()
