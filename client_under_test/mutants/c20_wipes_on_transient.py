"""C20-wipes-on-transient: any failed refresh is taken as revocation and the credentials are wiped.

Reproduces mcp-remote #349, typescript-sdk #2242 and codex #27165: a single 503, a proxy's HTML 502,
a timeout or a non-standard error string from the token endpoint makes the client delete its tokens and
open the browser. Only ``invalid_grant`` (and ``invalid_client`` for a dynamically registered client)
means the credentials are dead; the reference keeps them and retries with backoff.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.reference.errors import ClientError
from client_under_test.reference.registration import Registration

NAME = "C20-wipes-on-transient"


class Mutant(ReferenceClient):
    def _credentials_dead(self, err: ClientError, reg: Registration) -> bool:
        return True  # the bug: every refresh failure, even a 503, kills the credentials
