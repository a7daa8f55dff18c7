"""C06-ignores-error-callback: an ``error=`` callback is dropped and the flow keeps waiting for a code.

Reproduces screenpipe #5122, spawn #2038 and atlassian-mcp-server #21: the AS redirects back with
``error=access_denied`` (or ``invalid_scope``, ``server_error``, ``temporarily_unavailable``...), the client
only looks for ``code`` and waits until its own timeout, leaving the flow pending so the next attempt
joins a dead flow. The reference fails the matching flow at once with the AS's error (RFC 6749
§4.1.2.1) and sends no ``/token``; this mutant ignores the error.
"""

from __future__ import annotations

from client_under_test.reference import CallbackResult, ReferenceClient
from client_under_test.reference.flows import short
from client_under_test.stores import PendingFlow

NAME = "C06-ignores-error-callback"


class Mutant(ReferenceClient):
    async def _on_callback_error(self, flow: PendingFlow, params: dict[str, str]) -> CallbackResult:
        # the bug: no code, so "not done yet"; the flow stays pending until the client's timeout
        self._event("callback_error_ignored", state=short(flow.state), error=params.get("error"))
        return CallbackResult(False, "ignored", flow.state)
