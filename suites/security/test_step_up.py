"""C25, SCO-2, SCO-3: step-up on 403 ``insufficient_scope``.

The resource server's challenge asks for ``mcp:read`` (SCO-1), which the client gets. ``tools/call`` then
needs ``mcp:admin``: the 403 challenge names ONLY the missing scope, as RFC 6750 3.1 allows. A correct client
re-authorizes with the union ``mcp:read mcp:admin`` (SEP-2350) and retries the call. Asking for the
challenged scope alone (claude-code #44652, #28258; python-sdk #2676) loses ``mcp:read``: the next request
is refused for that, and the client ping-pongs between the two until its retry budget runs out.

``security/step_up_bounded``: the resource server answers insufficient_scope forever; the client must stop
after a bounded number of re-authorizations (SCO-2) instead of opening browser tabs in a loop.
"""

from harness import Scenario, checks
from harness import actions as a
from suites.security._checks import step_up_bounded, step_up_union

KNOBS = {"scopes_supported": ["mcp:read", "mcp:write", "mcp:admin"], "required_scope": "mcp:read",
         "step_up_scope": "mcp:admin"}

test_step_up = Scenario(
    id="security/step_up",
    title="403 insufficient_scope naming only the missing scope: re-authorize with the union",
    knobs=KNOBS,
    actions=[a.connect(), a.call_tool("echo", {"text": "needs mcp:admin"})],
    checks=[
        step_up_union(id="C25.step-up-union", requirements=["C25", "RFC6750-3.1"]),
        step_up_union(id="SCO-3.step-up-union", requirements=["MCP-2026-07-28:SCO-3"]),
        step_up_bounded(3, id="SCO-2.step-up-bounded", requirements=["MCP-2025-11-25:SCO-2"]),
        checks.outcome_ok("C25.call-succeeds-after-step-up", ["C25"]),
        checks.outcome_ok("SCO-2.call-succeeds-after-step-up", ["MCP-2025-11-25:SCO-2"]),
    ],
    needs={"step_up"},
).as_test()

test_step_up_bounded = Scenario(
    id="security/step_up_bounded",
    title="The resource server asks for more scope forever: the client stops after a bounded number of tries",
    knobs={"scopes_supported": ["mcp:read", "mcp:write", "mcp:admin"], "required_scope": "mcp:read"},
    actions=[
        a.connect(),
        a.arm_fault(endpoint="mcp", action="insufficient_scope", scope="mcp:admin", times=None,
                    match={"method": "tools/call"}),
        a.call_tool("echo", {"text": "never enough"}),
    ],
    checks=[
        step_up_bounded(3, id="SCO-2.step-up-bounded", requirements=["MCP-2025-11-25:SCO-2"]),
    ],
    needs={"step_up"},
    timeout_s=30,
).as_test()
