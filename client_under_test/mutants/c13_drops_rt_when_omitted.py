"""C13-drops-rt-when-omitted: a refresh response without ``refresh_token`` erases the stored one.

Reproduces hermes-agent #106185 (Google, Zoho, Asana) and activepieces #14450: Google answers a
refresh with a new access token only. RFC 6749 section 6 says the client keeps its refresh token
then; this mutant overwrites it with "none", so the session dies one access-token lifetime after
login and the user is sent back to the browser.
"""

from __future__ import annotations

from typing import Any

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C13-drops-rt-when-omitted"


class Mutant(ReferenceClient):
    def _merge_refresh_response(self, old: TokenRecord, response: dict[str, Any]) -> TokenRecord:
        merged = super()._merge_refresh_response(old, response)
        merged.refresh_token = response.get("refresh_token")  # the bug: no fallback to the old one
        return merged
