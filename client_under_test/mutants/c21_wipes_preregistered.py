"""C21-wipes-preregistered: the over-correction of C21 that deletes pre-registered credentials.

Reproduces vercel/ai #21020: on ``invalid_client`` the client invalidates "all" its client information,
including the credentials the operator configured, and falls back to dynamic registration; the configured
client is gone for good.
"""

from client_under_test.reference import ReferenceClient, Registration

NAME = "C21-wipes-preregistered"


class Mutant(ReferenceClient):
    async def _forget_registration(self, reg: Registration) -> bool:
        if reg.kind == "pre_registered":
            self.config.pre_registered = None  # the bug: the configured client is forgotten too
            return True
        return await super()._forget_registration(reg)
