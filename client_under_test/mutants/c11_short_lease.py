"""C11-short-lease: the cross-process refresh lock has a fixed 50 ms lease that is never renewed.

Reproduces OpenHikmah #595, neon #233 and cloudflare/mcp #136: the lock around the refresh expires while
the token request is still in flight (a slow token endpoint), another process takes the lock, re-reads
the old refresh token and redeems it a second time. The reference's lease outlives the HTTP timeout and
is renewed while held.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient

NAME = "C11-short-lease"


class Mutant(ReferenceClient):
    def _lock_lease(self) -> tuple[float, bool]:
        return 0.05, False  # BUG: shorter than a slow refresh, and never renewed
