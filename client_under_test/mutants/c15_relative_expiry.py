"""C15-relative-expiry: the expiry does not survive a restart, so a stale token is sent.

Reproduces python-sdk #3250/#3251/#3248 and #1318/#1784, FastMCP #1671: the client keeps
``expires_in`` relative (in memory), so a restarted client loading its stored tokens cannot tell the
access token expired hours ago. Its first call after the restart carries the stale bearer and gets a
401 (with C14 on top, a browser prompt). The reference persists an absolute expiry and refreshes
proactively shortly before it.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C15-relative-expiry"


class Mutant(ReferenceClient):
    def _needs_proactive_refresh(self, rec: TokenRecord) -> bool:
        return False  # the bug: no usable expiry, so a stored token always looks valid
