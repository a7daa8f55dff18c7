"""C14: a mid-session 401 while the local expiry still says valid must be answered by a silent refresh.

The client logs in and calls a tool. Then the resource server rejects the next tool call with 401 (an
injected fault: the token is still valid locally and at the AS), or every access token is revoked. A
correct client treats the 401 as authoritative and sends ``grant_type=refresh_token`` before any new
``/authorize``; mcp 2.3.0 re-authorizes instead.
"""

from harness import Scenario, checks
from harness import actions as a

CHECKS = [
    checks.refresh_before_authorize(after="arm_fault", id="C14.refresh-before-authorize",
                                    requirements=["C14", "RFC6749-6"]),
    checks.outcome_ok("C14.call-succeeds-after-401", ["C14"]),
]

test_mid_session_401 = Scenario(
    id="refresh/mid_session_401",
    title="The resource server answers 401 to the next call while the local expiry says valid",
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "before"}),
        a.arm_fault(endpoint="mcp", action="unauthorized", match={"method": "tools/call"}, times=1),
        a.call_tool("echo", {"text": "after"}),
    ],
    checks=CHECKS,
    needs={"refresh"},
).as_test()

test_mid_session_401_revoked = Scenario(
    id="refresh/mid_session_401_revoked",
    title="Every access token is revoked mid-session while the local expiry says valid",
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "before"}),
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "after"}),
    ],
    checks=[
        checks.refresh_before_authorize(after="revoke_tokens", id="C14.refresh-before-authorize",
                                        requirements=["C14", "RFC6749-6"]),
        checks.outcome_ok("C14.call-succeeds-after-401", ["C14"]),
    ],
    needs={"refresh"},
).as_test()
