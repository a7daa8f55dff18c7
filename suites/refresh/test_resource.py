"""C24: the RFC 8707 ``resource`` parameter on refresh, against strict and Entra-like servers.

``refresh/resource_require``: the AS requires ``resource`` on every token request (toolhive #3713,
litellm #34265). A client that sends it on the authorization request and the code exchange but drops it
on refresh gets ``invalid_target`` at its first refresh and is sent to the browser. RES-1 (2025-06-18 on)
asks for ``resource`` in both the authorization and the token requests.

``refresh/resource_reject_on_refresh``: the over-correction's target, Entra, refuses ``resource`` on a
refresh (python-sdk #2578). A correct client still refreshes silently (the reference retries once
without it); it never goes interactive over this.

Both trigger the refresh by revoking the access token mid-session. Not applicable to 2025-03-26, which
has no ``resource`` parameter.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, CheckContext, Verdict
from suites.refresh._checks import if_client_refreshes


@check("C24.refresh-accepted", ["C24"], title="the refresh succeeded without interactive re-authorization")
def refresh_accepted(ctx: CheckContext) -> Verdict:
    mark = ctx.q.harness("revoke_tokens").first()
    later = ctx.q.after(mark) if mark is not None else ctx.q
    issued = later.of("token_issued", grant_type="refresh_token").first()
    refused = later.of("token_refused", grant_type="refresh_token").first()
    if issued is None:
        ev = [e for e in (refused,) if e is not None]
        why = f" (the AS refused it: {field(refused, 'error')})" if refused is not None else ""
        return FAIL(f"no refresh succeeded after the access token was revoked{why}", ev)
    return PASS(f"the refresh succeeded (#{issued.seq})", [issued])


@check("C24.resource-on-refresh", ["C24", "MCP-2025-06-18:RES-1", "RFC8707-2"],
       title="the refresh request carries resource (the canonical MCP server URI)")
def resource_on_refresh(ctx: CheckContext) -> Verdict:
    refreshes = list(ctx.q.refresh_requests())
    if not refreshes:
        return FAIL("the client never refreshed, so its refresh request could not be judged")
    expected = ctx.urls.resource if ctx.urls is not None else None
    first = refreshes[0]
    got = field(first, "resource")
    if got != expected:
        return FAIL(f"the refresh request (#{first.seq}) carried resource={got!r}, not {expected!r}: a strict AS "
                    f"answers invalid_target", [first])
    return PASS(f"the refresh request carried resource={got}", [first])


CHECKS_COMMON = [
    if_client_refreshes(refresh_accepted),
    if_client_refreshes(checks.no_authorize_after("harness", id="C24.no-reauthorization", requirements=["C24"],
                                                  do="revoke_tokens")),
    checks.outcome_ok("C24.calls-succeed", ["C24"]),
]

ACTIONS = [
    a.connect(),
    a.call_tool("echo", {"text": "login"}),
    a.revoke_tokens(),
    a.call_tool("echo", {"text": "after revocation"}),
]

test_resource_require = Scenario(
    id="refresh/resource_require",
    title="The AS requires resource on every token request, the refresh too",
    knobs={"resource_policy": "require"},
    actions=ACTIONS,
    checks=[if_client_refreshes(resource_on_refresh), *CHECKS_COMMON],
    needs={"refresh"},
    since="2025-06-18",
).as_test()

test_resource_reject_on_refresh = Scenario(
    id="refresh/resource_reject_on_refresh",
    title="The AS (Entra-like) refuses resource on refresh; the refresh must still succeed silently",
    knobs={"resource_policy": "reject_on_refresh"},
    actions=ACTIONS,
    checks=CHECKS_COMMON,
    needs={"refresh"},
    since="2025-06-18",
).as_test()
