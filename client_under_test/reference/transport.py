"""The MCP side: an ``httpx2.Auth`` for the mcp SDK's streamable HTTP transport that asks OUR auth
manager (the ReferenceClient) for the bearer and reacts to 401 / 403 insufficient_scope.

The auth lock is held only while choosing the bearer, never while a response body or an SSE stream is
pending (C18). Errors are not raised through the SDK's task group: the 401/403 goes back to the SDK as
is, and the classified error is recorded in the caller's :data:`REQUEST_STATE` (the SDK copies the
sender's context into the task that sends the request), so the session wrapper can raise it.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx2

from client_under_test.reference.core import ACTOR
from client_under_test.reference.discovery_urls import parse_www_authenticate
from client_under_test.reference.errors import ClientError, TransientError

if TYPE_CHECKING:
    from client_under_test.reference.client import ReferenceClient
    from client_under_test.stores import TokenRecord


@dataclass
class RequestAuthState:
    """Classified auth errors of the session call in progress."""

    errors: list[ClientError] = field(default_factory=list)


REQUEST_STATE: contextvars.ContextVar[RequestAuthState | None] = contextvars.ContextVar(
    "reference_request_state", default=None)


class ReferenceAuth(httpx2.Auth):
    """Bearer from the store on every request (C17, TOK-1); 401 -> ``_on_401``; 403 -> ``_on_403``."""

    def __init__(self, client: ReferenceClient, actor: str) -> None:
        self.client = client
        self.actor = actor
        self.errors: list[ClientError] = []  # every error of this session, newest last

    def _record(self, exc: ClientError) -> None:
        self.errors.append(exc)
        state = REQUEST_STATE.get()
        if state is not None:
            state.errors.append(exc)
        self.client._event("request_failed", error=exc.classify())

    @staticmethod
    def _authorize(request: httpx2.Request, rec: TokenRecord | None) -> None:
        """TOK-1: the bearer only ever goes in the Authorization header."""
        if rec is not None and rec.access_token:
            request.headers["Authorization"] = f"Bearer {rec.access_token}"
        elif "Authorization" in request.headers:
            del request.headers["Authorization"]

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        ACTOR.set(self.actor)
        request.headers["x-harness-actor"] = self.actor
        client = self.client
        hold = client._hold_auth_lock_across_response()
        lock = client._auth_lock
        if hold:  # only a mutant (C18) does this
            await lock.acquire()
        try:
            try:
                if hold:
                    rec = await client._bearer_for_request()
                else:
                    async with lock:
                        rec = await client._bearer_for_request()
            except ClientError as exc:
                self._record(exc)
                rec = None
            self._authorize(request, rec)
            response = yield request  # a C18 mutant still holds the lock here, until the headers arrive
            budget = client._auth_retry_budget()
            while response.status_code in (401, 403):
                challenge = parse_www_authenticate(response.headers.get_list("www-authenticate"))
                if response.status_code == 403 and (challenge is None or challenge.error != "insufficient_scope"):
                    return
                try:
                    if response.status_code == 401:
                        rec = await client._on_401(rec, challenge, budget)
                    else:
                        rec = await client._on_403(rec, challenge, budget)
                except ClientError as exc:
                    self._record(exc)
                    return
                except Exception as exc:  # never let a bug tear down the SDK's task group
                    self._record(TransientError(f"auth manager failed: {type(exc).__name__}: {exc}"))
                    return
                self._authorize(request, rec)
                response = yield request
        finally:
            if hold:
                lock.release()
