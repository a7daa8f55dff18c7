"""C24-omits-resource-on-refresh: the refresh request carries no RFC 8707 ``resource``.

Reproduces toolhive #3713 and litellm #34265: strict authorization servers require ``resource`` on
every token request (RES-1), the refresh too; a client that drops it on refresh gets ``invalid_target``
and the session dies at the first refresh. (The over-correction, python-sdk #2578, is Entra rejecting
``resource`` on refresh; the reference sends it and retries once without it when the AS refuses it.)
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient
from client_under_test.stores import TokenRecord

NAME = "C24-omits-resource-on-refresh"


class Mutant(ReferenceClient):
    def _include_resource_on_refresh(self, rec: TokenRecord) -> bool:
        return False  # the bug: resource only on the authorization request and the code exchange
