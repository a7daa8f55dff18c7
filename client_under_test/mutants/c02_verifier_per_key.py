"""C02-verifier-per-key: the PKCE verifier is kept per (user, server), so a second initiation overwrites it.

Reproduces LibreChat #13528/#13532 and mcp-remote #320: the same (user, server) starts a flow twice (two
tabs, or a retry); the browser completes the FIRST authorization URL, but the client redeems its code
with the verifier of the SECOND initiation, and the token endpoint answers ``invalid_grant`` (the
verifier does not match the code's challenge). The reference binds the verifier to the flow's own
``state``; this mutant looks it up by flow key and takes the latest one this process created.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.stores import PendingFlow

NAME = "C02-verifier-per-key"


class Mutant(ReferenceClient):
    def _verifier_for(self, flow: PendingFlow) -> str:
        # the bug: "the" verifier for (tenant, user, server) is whichever initiation came last
        return self._latest_flow.get(flow.flow_key, flow).verifier
