"""RES-1, TOK-1, SCO-1: what the client sends, request by request.

* ``security/resource_param``: the AS requires RFC 8707 ``resource`` (``resource_policy=require``). Every
  ``/authorize`` and every token request (code exchange and refresh) carries the canonical MCP server URI,
  exactly, with no trailing slash (RES-1). A revoked access token forces one refresh.
* ``security/bearer_header``: every MCP request carries the access token in ``Authorization: Bearer``,
  never in the query string (TOK-1).
* ``security/scope_from_challenge``: the 401 challenge says ``scope="mcp:read"``: ask for exactly that (SCO-1).
* ``security/scope_from_prm``: no scope in the challenge: ask for all of the PRM's ``scopes_supported``.
* ``security/scope_omitted``: neither: omit ``scope``.
"""

from collections.abc import Callable
from typing import Any

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, CheckContext, Verdict

RES = ["MCP-2025-06-18:RES-1", "RFC8707-2"]


def _resource_is(ctx_resource: Callable[[], str]) -> Callable[[Any], str | None]:
    def pred(e: Any) -> str | None:
        got = field(e, "resource")
        want = ctx_resource()
        return None if got == want else f"resource is {got!r}, expected the canonical MCP server URI {want!r}"
    return pred


def resource_check(endpoint: str, id: str, what: str, **match: Any) -> Any:
    @check(id, RES, title=f"every {what} carries the canonical resource")
    def fn(ctx: CheckContext) -> Verdict:
        return checks.every_request(endpoint, _resource_is(lambda: ctx.urls.resource), id=id, requirements=RES,
                                    what=what, **match).fn(ctx)
    return fn


test_resource_param = Scenario(
    id="security/resource_param",
    title="resource (RFC 8707) on authorize, code exchange and refresh, canonical and exact",
    knobs={"resource_policy": "require"},
    actions=[a.connect(), a.call_tool("echo", {"text": "before"}), a.revoke_tokens(),
             a.call_tool("echo", {"text": "after"})],
    checks=[
        resource_check("authorize", "RES-1.authorize-resource", "/authorize request"),
        resource_check("token", "RES-1.code-exchange-resource", "code exchange", grant_type="authorization_code"),
        resource_check("token", "RES-1.refresh-resource", "refresh request", grant_type="refresh_token"),
        checks.outcome_ok("RES-1.connects", RES),
    ],
    needs={"refresh"},
).as_test()


@check("TOK-1.bearer-in-header", ["MCP-2025-06-18:TOK-1", "RFC6750-2.1"])
def bearer_in_header(ctx: CheckContext) -> Verdict:
    """Every MCP request after login carries a bearer header; none puts the token in the query."""
    in_query = list(ctx.q.of("token_rejected", reason="token_in_query"))
    if in_query:
        return FAIL("the client sent its access token in the query string; use the Authorization header",
                    in_query, [e.seq for e in in_query])
    first_token = ctx.q.of("token_issued").first()
    if first_token is None:
        return FAIL("the client never obtained a token")
    later = list(ctx.q.after(first_token).requests("mcp"))
    if not later:
        return FAIL("the client sent no MCP request after obtaining a token")
    bare = [e for e in later if not (e.data or {}).get("bearer")]
    if bare:
        return FAIL(f"MCP request #{bare[0].seq} has no Authorization: Bearer header although the client holds "
                    f"a token", bare[:5], [bare[0].seq])
    return PASS(f"{len(later)} MCP request(s) after login, each with Authorization: Bearer", later[:10])


test_bearer_header = Scenario(
    id="security/bearer_header",
    title="Every MCP request carries Authorization: Bearer, never a query-string token",
    actions=[a.connect(), a.list_tools(), a.call_tool("echo", {"text": "hi"})],
    checks=[bearer_in_header],
).as_test()


def scope_check(expected: str | None, id: str) -> Any:
    def pred(e: Any) -> str | None:
        got = field(e, "scope")
        if expected is None:
            return None if not got else f"scope={got!r} although neither the challenge nor the PRM names any"
        return None if set(str(got or "").split()) == set(expected.split()) else \
            f"scope={got!r}, expected {expected!r}"
    what = "/authorize request"
    return checks.every_request("authorize", pred, id=id, requirements=["MCP-2025-11-25:SCO-1"], what=what)


SCOPES = ["mcp:read", "mcp:write", "mcp:admin"]
CALL = [a.connect(), a.call_tool("echo", {"text": "hi"})]

test_scope_from_challenge = Scenario(
    id="security/scope_from_challenge",
    title="The challenge's scope is the scope asked for",
    knobs={"scopes_supported": SCOPES, "required_scope": "mcp:read"},
    actions=CALL,
    checks=[scope_check("mcp:read", "SCO-1.challenge-scope")],
).as_test()

test_scope_from_prm = Scenario(
    id="security/scope_from_prm",
    title="Without a challenge scope, all of the PRM's scopes_supported",
    knobs={"scopes_supported": SCOPES, "challenge_scope": False},
    actions=CALL,
    checks=[scope_check(" ".join(SCOPES), "SCO-1.prm-scopes")],
).as_test()

test_scope_omitted = Scenario(
    id="security/scope_omitted",
    title="Neither a challenge scope nor PRM scopes: no scope parameter",
    knobs={"scopes_supported": [], "challenge_scope": False},
    actions=CALL,
    checks=[scope_check(None, "SCO-1.scope-omitted")],
).as_test()
