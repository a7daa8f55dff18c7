"""C19: when the resource server rejects every token, the client refreshes at most once per request.

``refresh/rs_rejects_every_token``: after login the resource server answers 401 to the next four tool
calls whatever token they carry (a wrong audience, skewed clocks, a broken introspection). A correct
client answers one rejected request with at most one refresh and then at most one interactive flow,
and then gives up with an error. A buggy client refreshes after every 401, forever (mcpproxy-go #310
logged 23 million retries). Four rejections are more than a correct client ever meets for one request,
so a looping client is caught at its second refresh and then let through.

``refresh/rs_rejects_token_endpoint_down``: the same, with the token endpoint answering 500 forever. The
client may retry the refresh a few times with backoff, but it must stop. Sources: LibreChat #16075,
mcp-remote #91, mcpproxy-go #310.
"""

from __future__ import annotations

from harness import Scenario
from harness import actions as a
from suites.refresh._checks import at_most_per_rejected_request

test_rs_rejects_every_token = Scenario(
    id="refresh/rs_rejects_every_token",
    title="The resource server rejects every token; at most one refresh per rejected request",
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.arm_fault(endpoint="mcp", action="unauthorized", match={"method": "tools/call"}, times=4),
        a.call_tool("echo", {"text": "rejected"}),
    ],
    checks=[
        at_most_per_rejected_request("arm_fault", refreshes=1, authorizes=1, id="C19.bounded-refresh",
                                     requirements=["C19"]),
    ],
    needs={"refresh"},
).as_test()

test_rs_rejects_token_endpoint_down = Scenario(
    id="refresh/rs_rejects_token_endpoint_down",
    title="The resource server rejects every token and the token endpoint answers 500 forever",
    faults=[{"endpoint": "token", "action": "error", "status": 500, "error": "server_error",
             "match": {"grant_type": "refresh_token"}, "times": None}],
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.arm_fault(endpoint="mcp", action="unauthorized", match={"method": "tools/call"}, times=None),
        a.call_tool("echo", {"text": "rejected"}),
    ],
    checks=[
        # one refresh, retried with backoff a few times, is fine; a loop is not
        at_most_per_rejected_request("arm_fault", refreshes=5, authorizes=1, id="C19.bounded-retries",
                                     requirements=["C19", "C20"]),
    ],
    needs={"refresh"},
).as_test()
