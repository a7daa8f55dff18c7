"""C17-cached-access-token: each tab keeps the token it first read, and never sees another's refresh.

Reproduces mcpproxy-go #295 and LibreChat #14659: a connection caches its access token in memory.
When another tab or replica refreshes, this one keeps sending the old (now revoked or expired) token
and earns a 401, and under rotation it may redeem a refresh token that was already rotated out. The
reference reads the shared store on every request, so the first request after any refresh carries the
new token.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.reference.core import ACTOR
from client_under_test.stores import TokenRecord

NAME = "C17-cached-access-token"


class Mutant(ReferenceClient):
    async def _current_token(self) -> TokenRecord | None:
        cache: dict[str, TokenRecord] = self.__dict__.setdefault("_tab_token_cache", {})
        actor = ACTOR.get()
        if cache.get(actor) is None:  # the bug: read the store once per tab, then trust memory
            rec = await super()._current_token()
            if rec is not None:
                cache[actor] = rec
            return rec
        return cache[actor]
