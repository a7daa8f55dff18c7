"""C03-callback-to-current-flow: a callback is handed to whatever flow is live for the user, whatever its state.

Reproduces LibreChat #14534/#14549, mcpproxy-go #281 and #1067/#1068, cloudflare/agents #1926: flow A is
abandoned and flow B starts; then a callback carrying A's ``state`` (or a forged ``state``) arrives. A
client that does not dispatch by ``state`` feeds that callback's code to B: B's verifier does not match,
so B fails (or an attacker's code is redeemed). The reference looks the callback up by its own state and
rejects unknown or superseded states without touching the live flow; this mutant ignores the state and
takes the live flow of the (tenant, user, server) key.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.stores import PendingFlow

NAME = "C03-callback-to-current-flow"


class Mutant(ReferenceClient):
    async def _flow_for_callback(self, state: str) -> PendingFlow | None:
        # the bug: "the" pending flow of this user and server, not the one this state belongs to
        return await self._flow_store().pending_flow(self._flow_key())
