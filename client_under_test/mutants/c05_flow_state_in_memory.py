"""C05-flow-state-in-memory: pending flows (state, verifier, client_id) live in the process's memory.

Reproduces LibreChat #14724, #13615, #15876 and #14629: behind a load balancer the OAuth callback lands
on another replica, which has never heard of the ``state``; no ``/token`` follows (or one without the
right client and verifier) and the user is sent to ``/authorize`` again. The reference keeps flows in the
shared store, keyed by ``state``, with a TTL at least as long as the consent wait.
"""

from __future__ import annotations

from typing import Any

from client_under_test.reference import ReferenceClient
from client_under_test.stores import MemoryStore

NAME = "C05-flow-state-in-memory"


class Mutant(ReferenceClient):
    def _flow_store(self) -> Any:
        # BUG: a per-process dict instead of the shared store
        return self.__dict__.setdefault("_process_local_flows", MemoryStore(now=self.clock.now))
