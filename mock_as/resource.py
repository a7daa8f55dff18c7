"""The MCP resource server: the official SDK's Streamable HTTP server behind our bearer layer.

The SDK's own auth middleware is not used: the mock needs to journal every rejection with its reason,
shape ``WWW-Authenticate`` from the knobs, and inject 401/403 faults, so the bearer check is ours.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_as.context import ServerContext
from mock_as.discovery import MCP_PATH
from mock_as.journal import redact
from mock_as.middleware import (
    ACTOR_KEY,
    AUTH_KEY,
    EXCHANGE_KEY,
    PARAMS_KEY,
    bearer_token,
    header,
    json_error,
    send_raw,
)
from mock_as.second_as import trusted_as

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def build_mcp_server() -> MCPServer:
    """The MCP server every scenario talks to: two tools, nothing else."""
    server: MCPServer = MCPServer("mock_as", instructions="mock MCP server of the OAuth conformance harness",
                                  log_level="WARNING")

    @server.tool(description="Return the text unchanged.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Add two numbers.")
    def add_numbers(a: int | float, b: int | float) -> int | float:
        return a + b

    return server


class McpEndpoint:
    """The SDK's Streamable HTTP endpoint (stateful sessions) and its lifespan."""

    def __init__(self, host: str) -> None:
        self.server = build_mcp_server()
        security = None if host in LOOPBACK_HOSTS else TransportSecuritySettings(
            enable_dns_rebinding_protection=False)
        self.server.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security, host=host)
        self.manager: StreamableHTTPSessionManager = self.server.session_manager
        self.app: ASGIApp = StreamableHTTPASGIApp(self.manager)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield


def challenge(ctx: ServerContext, *, error: str | None = None, description: str | None = None,
              scope: str | None = None) -> str:
    """``WWW-Authenticate: Bearer ...`` as the knobs say (RFC 6750 3, RFC 9728 5.1)."""
    k = ctx.knobs
    parts: list[str] = []
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    if k.challenge_resource_metadata and ctx.urls is not None and ctx.urls.prm:
        parts.append(f'resource_metadata="{ctx.urls.prm}"')
    if scope is None and k.challenge_scope:
        scope = k.required_scope or " ".join(k.scopes_supported)
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts) if parts else "Bearer"


class BearerLayer:
    """Checks the bearer token of every MCP request, then hands it to the SDK's app."""

    def __init__(self, ctx: ServerContext, app: ASGIApp) -> None:
        self.ctx = ctx
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = self.ctx
        params: dict[str, Any] = scope.get(PARAMS_KEY) or {}
        ev = {"endpoint": "mcp", "actor": scope.get(ACTOR_KEY), "exchange": scope.get(EXCHANGE_KEY)}
        token = bearer_token(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "access_token" in query:  # TOK-1: RFC 6750 2.3 is not offered; the header is the only way
            self._journal("token_rejected", ev, reason="token_in_query", token=redact(query["access_token"][0]),
                          also_in_header=token is not None)
            await send_raw(send, self._unauthorized(
                "invalid_request", "access tokens are accepted only in the Authorization header"))
            return
        if token is None:
            auth = header(scope, "authorization")
            self._journal("token_rejected", ev, reason="missing" if not auth else "not_bearer",
                          scheme=(auth or "").split(" ", 1)[0] or None)
            await send_raw(send, self._unauthorized(None, None))
            return
        assert ctx.state is not None and ctx.urls is not None
        check = trusted_as(ctx).state.validate_access_token(token, ctx.urls.resource)  # C26: after a migration
        client_id = check.claims.get("client_id") or check.claims.get("azp") if check.claims else None
        scope[AUTH_KEY] = {"client_id": client_id, "token": redact(token)}
        if not check.ok:
            self._journal("token_rejected", ev, client_id=client_id, reason=check.reason, token=redact(token))
            await send_raw(send, self._unauthorized("invalid_token", f"the access token is {check.reason}"))
            return
        fault = ctx.faults.take("mcp", params, actions=("unauthorized", "insufficient_scope"))
        if fault is not None:
            self._journal("fault_injected", ev, client_id=client_id, fault=fault.id, action=fault.action,
                          fired=fault.fired, times=fault.times)
            if fault.action == "unauthorized":
                self._journal("token_rejected", ev, client_id=client_id, reason="injected", token=redact(token))
                await send_raw(send, self._unauthorized(fault.error or "invalid_token",
                                                        fault.error_description or "the access token was rejected"))
            else:
                missing = fault.scope or ctx.knobs.step_up_scope or ctx.knobs.required_scope or "mcp:write"
                self._journal("step_up_challenge", ev, client_id=client_id, scope=missing, tool=params.get("tool"),
                              injected=True, token=redact(token))
                await send_raw(send, self._forbidden(missing))
            return
        k = ctx.knobs
        if k.required_scope and k.required_scope not in check.scope:
            self._journal("token_rejected", ev, client_id=client_id, reason="insufficient_scope",
                          token=redact(token), scope=k.required_scope, granted=sorted(check.scope))
            await send_raw(send, self._forbidden(k.required_scope))
            return
        if k.step_up_scope and params.get("method") == "tools/call" and k.step_up_scope not in check.scope:
            self._journal("step_up_challenge", ev, client_id=client_id, scope=k.step_up_scope,
                          tool=params.get("tool"), granted=sorted(check.scope), token=redact(token))
            await send_raw(send, self._forbidden(k.step_up_scope))
            return
        await self.app(scope, receive, send)

    def _journal(self, kind: str, ev: dict[str, Any], **data: Any) -> None:
        assert self.ctx.journal is not None
        self.ctx.journal.record(kind, **ev, **data)

    def _unauthorized(self, error: str | None, description: str | None) -> tuple[int, list, bytes]:
        www = challenge(self.ctx, error=error, description=description)
        return json_error(401, error or "invalid_token",
                          description or "this MCP server needs a bearer token; see WWW-Authenticate",
                          {"WWW-Authenticate": www})

    def _forbidden(self, missing: str) -> tuple[int, list, bytes]:
        www = challenge(self.ctx, error="insufficient_scope", scope=missing,
                        description=f"this request needs the scope {missing}")
        return json_error(403, "insufficient_scope", f"this request needs the scope {missing}",
                          {"WWW-Authenticate": www})
