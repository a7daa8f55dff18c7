"""C18-lock-across-stream: the auth lock is held while a response body (an SSE stream) is read.

Reproduces python-sdk #1326, #3209 and #2847: the OAuth httpx ``Auth`` flow keeps its lock across the
whole request, including reading the response. A long-lived GET SSE stream (or a slow tool response)
then holds the lock, and every concurrent tool call stalls behind it. The reference holds the lock only
while choosing the bearer token.
"""

from __future__ import annotations

from client_under_test.reference import ReferenceClient

NAME = "C18-lock-across-stream"


class Mutant(ReferenceClient):
    def _hold_auth_lock_across_response(self) -> bool:
        return True  # the bug: the lock covers the response body too
