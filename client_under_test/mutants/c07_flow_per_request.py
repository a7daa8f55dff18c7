"""C07-flow-per-request: every request that needs authorization starts its own interactive flow.

Reproduces hermes-agent #103198, mcpproxy-go #50 and LibreChat #12162/#12802: N concurrent requests (tabs,
or a burst of tool calls) need authorization and the client opens N authorization URLs (N browser tabs)
for one (user, server). The reference claims the flow key in the store (``claim_flow``): at most one
outstanding interactive flow per (tenant, user, server), the others join it. This mutant claims a key
unique to each flow, so nothing is ever joined.
"""

from __future__ import annotations

import dataclasses

from client_under_test.reference import ReferenceClient
from client_under_test.stores import PendingFlow

NAME = "C07-flow-per-request"


class Mutant(ReferenceClient):
    async def _claim_flow(self, flow: PendingFlow) -> PendingFlow:
        # the bug: single flight per flow instead of per (tenant, user, server)
        own = dataclasses.replace(flow, flow_key=f"{flow.flow_key}#{flow.state}")
        return await self._flow_store().claim_flow(own)
