"""C14-interactive-on-401: a mid-session 401 goes straight to the browser.

Reproduces mcp (Python SDK) 2.3.0 (python-sdk #2875), LibreChat #13364/#13369 (Entra, hourly) and
claude-code #76939/#82513: when the resource server rejects an access token the client still
believes valid (revoked, or the server's clock differs), it starts a new interactive authorization
instead of first trying ``grant_type=refresh_token``.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient

NAME = "C14-interactive-on-401"


class Mutant(ReferenceClient):
    def _refresh_before_interactive(self) -> bool:
        return False  # the bug: a 401 never tries the refresh token
