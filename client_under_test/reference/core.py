"""Plumbing every part of the client shares: the OAuth HTTP client, the actor label, events, backoff."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any, Protocol

import httpx

from client_under_test.reference.config import ClientConfig
from client_under_test.reference.discovery_urls import canonical_resource
from client_under_test.reference.errors import TransientError

#: The tab / replica label of the current task; sent as ``x-harness-actor`` on every request.
ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar("harness_actor", default="client")


class Clock(Protocol):
    def now(self) -> float: ...


class _WallClock:
    def now(self) -> float:
        return time.time()


class ClientCore:
    """State and helpers shared by the discovery, registration, flow and token mixins."""

    def __init__(self, server_url: str, store: Any, user_agent: Any = None, config: ClientConfig | None = None,
                 clock: Clock | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None,
                 mcp_transport: Any = None) -> None:
        """``http_transport`` (httpx, OAuth requests) and ``mcp_transport`` (httpx2, the MCP session) let
        a harness observe or reroute traffic; None means the default transports."""
        self.config = config or ClientConfig()
        self.server_url = server_url
        #: The canonical MCP server URI (RFC 8707 ``resource``, RES-1): no fragment, no trailing slash.
        self.resource = canonical_resource(server_url)
        self.store = store
        self.user_agent = user_agent
        self.clock: Clock = clock or _WallClock()
        self.events: list[dict[str, Any]] = []
        self._http_transport = http_transport
        self._mcp_transport = mcp_transport
        self._http_client: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    # -- HTTP (OAuth side: httpx; the MCP side uses httpx2 through the mcp SDK) ---------------------
    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http_client is None or self._http_loop is not loop or self._http_client.is_closed:
            self._http_client = httpx.AsyncClient(
                transport=self._http_transport, follow_redirects=False,
                timeout=httpx.Timeout(self.config.http_timeout_s))
            self._http_loop = loop
        return self._http_client

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"x-harness-actor": ACTOR.get(), "accept": "application/json"}
        if extra:
            headers.update(extra)
        return headers

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures and timeouts become :class:`TransientError` (C20)."""
        headers = self._headers(kwargs.pop("headers", None))
        try:
            return await self._http().request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{method} {url} timed out") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None

    # -- small helpers ------------------------------------------------------------------------------
    def _now(self) -> float:
        return float(self.clock.now())

    def _event(self, kind: str, **data: Any) -> None:
        self.events.append({"kind": kind, "actor": ACTOR.get(), **data})

    async def _backoff(self, attempt: int) -> None:
        delay = self.config.retry.delay(attempt)
        if delay > 0:
            await asyncio.sleep(delay)

    def _token_key(self) -> str:
        """Tokens are per (tenant, user, server)."""
        return f"{self.config.tenant}|{self.config.user}|{self.resource}"

    def _flow_key(self) -> str:
        """At most one interactive flow per (tenant, user, server) (C07)."""
        return f"{self.config.tenant}|{self.config.user}|{self.resource}"
