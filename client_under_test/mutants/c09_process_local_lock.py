"""C09-process-local-lock: the refresh is single-flight inside one process only.

Reproduces LibreChat #15977, claude-code #74250/#85236/#91641, opencode #49439 and codex #17265: several
processes share one credential store, each has only an in-memory mutex around its refresh, so two
processes that see expiry (or a 401) at once both redeem the same refresh token. Under rotation with
reuse detection the AS revokes the whole family and a replica ends up needing interactive login. The
reference also takes a cross-process store lock (sqlite row / redis ``SET NX PX`` with an owner token)
and re-reads the store once it holds it.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractAsyncContextManager
from typing import Any

from client_under_test.reference import ReferenceClient
from client_under_test.reference.tokens import RefreshKey

NAME = "C09-process-local-lock"


class Mutant(ReferenceClient):
    def _store_refresh_lock(self, key: RefreshKey) -> AbstractAsyncContextManager[Any]:
        return contextlib.nullcontext()  # BUG: the in-process asyncio lock is all there is
