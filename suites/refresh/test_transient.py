"""C20: transient token-endpoint failures during a refresh must not cost the user their credentials.

The access token is revoked, so the next call must refresh, and the token endpoint is failing while it
does: a 503, a proxy's HTML 502, a non-standard error string, or a connection dropped after the AS
committed (what a client timeout looks like). The call may fail. Then the outage ends and the next call
refreshes. A buggy client treats any refresh failure as revocation: it wipes the credentials and opens the
browser. A correct client keeps them (only ``invalid_grant``, and ``invalid_client`` for a dynamically
registered client, mean they are dead), retries with backoff, and the next refresh presents the same
refresh token. Sources: mcp-remote #349, typescript-sdk #2242, codex #27165.
"""

from __future__ import annotations

from typing import Any

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.model import FAIL, PASS, CheckContext, Verdict
from suites.refresh._checks import if_client_refreshes, refreshes_present_latest_rt

REFRESH = {"grant_type": "refresh_token"}

FAULTS: dict[str, dict[str, Any]] = {
    "503": {"endpoint": "token", "action": "error", "status": 503, "match": REFRESH, "times": None},
    "html502": {"endpoint": "token", "action": "html", "status": 502, "match": REFRESH, "times": None},
    "nonstandard": {"endpoint": "token", "action": "error", "status": 400, "match": REFRESH, "times": None,
                    "body": '{"error": "backend_busy", "message": "try again later"}'},
    "dropped": {"endpoint": "token", "action": "drop_after_commit", "match": REFRESH, "times": None},
}


@check("C20.recovers-after-outage", ["C20"], title="the call after the outage succeeds")
def recovers_after_outage(ctx: CheckContext) -> Verdict:
    steps = [s for s in ctx.outcome.steps if s.action.get("do") == "call_tool"]
    if not steps:
        return FAIL("the client reported no tool calls")
    last = steps[-1]
    if not last.ok:
        return FAIL(f"the call after the token endpoint recovered failed with {last.error}: {last.detail[:200]}")
    return PASS("the call after the outage succeeded")


def _scenario(kind: str) -> Scenario:
    return Scenario(
        id=f"refresh/transient_{kind}",
        title=f"The token endpoint fails transiently ({kind}) during a refresh; credentials must survive",
        actions=[
            a.connect(),
            a.call_tool("echo", {"text": "login"}),
            a.revoke_tokens(),
            a.arm_fault(**FAULTS[kind]),
            a.call_tool("echo", {"text": "during the outage"}),  # may fail: the AS is down
            a.clear_faults(),
            a.call_tool("echo", {"text": "after the outage"}),
        ],
        checks=[
            if_client_refreshes(checks.no_authorize_after("harness", id="C20.no-reauthorization", requirements=["C20"],
                                                          do="arm_fault")),
            if_client_refreshes(refreshes_present_latest_rt(id="C20.credentials-kept", requirements=["C20", "RFC6749-5.2"],
                                                            after="clear_faults", at_least=1)),
            recovers_after_outage,
        ],
        needs={"refresh"},
    )


test_transient_503 = _scenario("503").as_test()
test_transient_html502 = _scenario("html502").as_test()
test_transient_nonstandard = _scenario("nonstandard").as_test()
test_transient_dropped = _scenario("dropped").as_test()
