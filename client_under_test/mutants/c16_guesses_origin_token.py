"""C16-guesses-origin-token: refreshes go to ``{origin}/token`` instead of the advertised endpoint.

Reproduces python-sdk #3240 and #2492 (HubSpot, whose token endpoint is not at the root): after a
restart the client has lost the AS metadata and guesses the token endpoint from the issuer's origin.
The guess answers 404, the refresh never happens and the user is asked to log in again. The reference
uses the token endpoint persisted with the tokens, or rediscovers it; it never guesses.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C16-guesses-origin-token"


class Mutant(ReferenceClient):
    async def _token_endpoint_for_refresh(self, rec: TokenRecord) -> str:
        parts = urlsplit(rec.issuer or rec.token_endpoint or self.server_url)
        return f"{parts.scheme}://{parts.netloc}/token"  # the bug: a guess, not the metadata
