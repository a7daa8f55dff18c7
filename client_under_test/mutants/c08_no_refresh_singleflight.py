"""C08-no-refresh-singleflight: every request that sees a 401 refreshes on its own.

Reproduces @modelcontextprotocol/sdk #1760 (fixed in #2757), python-sdk #3243, LibreChat #14583 and
opencode #34074: N parallel calls behind one expired or revoked access token each redeem the same
refresh token. Under rotation with reuse detection the AS revokes the whole family, including the
refresh token the first redemption just issued. The reference serializes refreshes per (issuer,
client_id, refresh token) and re-reads the store after the lock; this mutant takes no lock at all.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractAsyncContextManager
from typing import Any

from client_under_test.reference import ReferenceClient
from client_under_test.reference.tokens import RefreshKey

NAME = "C08-no-refresh-singleflight"


class Mutant(ReferenceClient):
    def _refresh_lock(self, key: RefreshKey) -> AbstractAsyncContextManager[Any]:
        return contextlib.nullcontext()  # the bug: no single-flight, not even within one process
