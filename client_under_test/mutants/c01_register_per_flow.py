"""C01-register-per-flow: every interactive flow registers a new client and overwrites the stored one.

Reproduces LibreChat #11925 (Okta behind 3 replicas on Redis): each tab or replica that starts an OAuth
flow calls ``/register`` and writes its client over the persisted registration, so there are several
``/register`` calls per (issuer, redirect_uris) and flows end up with another flow's ``client_id``.
The reference reuses the stored registration and registers under a lock with ``if_absent=True``.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient, Registration
from client_under_test.reference.discovery import AuthServerMetadata

NAME = "C01-register-per-flow"


class Mutant(ReferenceClient):
    async def _registration_for(self, asm: AuthServerMetadata) -> Registration:
        if self._pre_registered_for(asm) is not None or self._use_cimd(asm) or not asm.registration_endpoint:
            return await super()._registration_for(asm)
        reg = await self._register_dynamic(asm)  # BUG: no reuse, no lock, no re-read
        issuer, uris = self._registration_key(asm.issuer)
        await self.store.put_registration(issuer, uris, reg.to_record(), if_absent=False)  # BUG: overwrite
        return reg
