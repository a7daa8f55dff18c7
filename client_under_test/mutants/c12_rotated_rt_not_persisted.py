"""C12-rotated-rt-not-persisted: the rotated refresh token is kept in memory only.

Reproduces QwenPaw #7053, executor #1973 and dust #17840: after a refresh under rotation the client
persists the new access token but keeps the OLD refresh token in its credential store. After a
restart (or on the next read of the store) the next refresh presents the already-redeemed refresh
token and gets ``invalid_grant``. The reference persists the rotated refresh token atomically with
the access token (CAS) before either is used.
"""

from __future__ import annotations

import dataclasses

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C12-rotated-rt-not-persisted"


class Mutant(ReferenceClient):
    async def _write_refreshed(self, old: TokenRecord, new: TokenRecord) -> TokenRecord:
        # the bug: only the access token reaches the store; the new refresh token lives in memory
        await super()._write_refreshed(old, dataclasses.replace(new, refresh_token=old.refresh_token))
        return new
