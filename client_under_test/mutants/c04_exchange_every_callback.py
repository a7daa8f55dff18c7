"""C04-exchange-every-callback: every delivery of a callback exchanges its code.

Reproduces LibreChat #10468: the browser retries the callback (or two tabs deliver it) while the first
delivery is still being handled, and the client sends the same code to the token endpoint twice. The
second exchange gets ``invalid_grant``; an AS that follows RFC 6749 §4.1.2 also revokes the tokens the
first exchange issued, and the session dies. The reference takes the flow atomically
(``store.take_flow``) so exactly one delivery exchanges the code; this mutant only reads it.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.stores import PendingFlow

NAME = "C04-exchange-every-callback"


class Mutant(ReferenceClient):
    async def _take_flow(self, state: str) -> PendingFlow | None:
        # the bug: a check instead of an atomic take; concurrent deliveries all "get" the flow
        return await self._flow_store().get_flow(state)
