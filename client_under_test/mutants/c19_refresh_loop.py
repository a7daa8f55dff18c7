"""C19-refresh-loop: a rejected request refreshes again and again, without bound.

Reproduces LibreChat #16075, mcp-remote #91 and mcpproxy-go #310 (23 million retries): when the
resource server rejects every token (a wrong audience, a clock skew, a broken introspection), the client
refreshes after every 401 and retries, forever. The reference allows at most one refresh and one
interactive flow per rejected request, then gives up with an error, backing off on repeats.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient, RequestBudget

NAME = "C19-refresh-loop"

_UNBOUNDED = 10_000


class Mutant(ReferenceClient):
    def _auth_retry_budget(self) -> RequestBudget:
        # the bug: no budget; every 401 is answered by another refresh (adoption still applies)
        return RequestBudget(refresh=_UNBOUNDED, interactive=_UNBOUNDED, step_up=self.config.max_step_up)
