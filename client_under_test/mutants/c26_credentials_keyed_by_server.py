"""C26-credentials-keyed-by-server: tokens are refreshed at whatever AS the server names now.

Reproduces typescript-sdk #2271 (SEP-2352): credentials are stored per MCP server, not per authorization
server. After the protected resource metadata switches to a new AS, the client sends the old AS's refresh
token and client_id to the new AS's token endpoint.
"""

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C26-credentials-keyed-by-server"


class Mutant(ReferenceClient):
    async def _token_endpoint_for_refresh(self, rec: TokenRecord) -> str:
        target = await self._discover(None)  # the bug: the server's CURRENT AS, not the one that issued rec
        return target.asm.token_endpoint
