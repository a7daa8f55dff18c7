"""C10-clear-on-invalid-grant: a refresh that fails with invalid_grant wipes the stored credentials,
whatever they are by now.

Reproduces claude-code #84440 (Auth0 rotation, leeway 0) and opencode #49439: two refreshes race, the
loser gets ``invalid_grant`` and deletes the credential store, including the fresh tokens the winner
just wrote; the next call needs interactive login although nothing was revoked. The reference clears by
compare-and-swap, only if the stored refresh token is still the one that failed.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C10-clear-on-invalid-grant"


class Mutant(ReferenceClient):
    async def _clear_tokens_if_unchanged(self, rec: TokenRecord) -> bool:
        key = self._token_key()
        stored = await self.store.get_tokens(key)
        if stored is None:
            return False
        # BUG: no comparison with the refresh token that failed
        cleared = await self.store.cas_tokens(key, stored.version, None)
        self._event("tokens_cleared", cleared=cleared)
        return bool(cleared)
