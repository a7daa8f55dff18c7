"""``ReferenceClient``: discovery + registration + flows + tokens, and MCP sessions over the mcp SDK."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from client_under_test.reference.core import ACTOR
from client_under_test.reference.discovery import AuthTarget
from client_under_test.reference.discovery_urls import Challenge
from client_under_test.reference.errors import (
    ClientError,
    CredentialsDead,
    InsufficientScope,
    InteractiveAuthRequired,
    TokenEndpointError,
    TransientError,
    Unauthorized,
)
from client_under_test.reference.flows import FlowsMixin
from client_under_test.reference.transport import REQUEST_STATE, ReferenceAuth, RequestAuthState
from client_under_test.stores import TokenRecord

T = TypeVar("T")


@dataclass
class RequestBudget:
    """Per rejected request (C19): bounded adoption, refresh, interactive and step-up retries."""

    refresh: int
    interactive: int
    step_up: int
    adopt: int = 2
    rounds: int = 0  # rejections handled so far for this request: backoff grows with it (C19)


def union_scopes(*scopes: str | None) -> str:
    """Space-separated union, order kept (SCO-3)."""
    out: list[str] = []
    for scope in scopes:
        for s in (scope or "").split():
            if s not in out:
                out.append(s)
    return " ".join(out)


class ReferenceClient(FlowsMixin):
    """A correct MCP OAuth client. See the package docstring for the overridable-method table."""

    # -- scope (SCO-1/2/3, RT-1) --------------------------------------------------------------------
    def _select_scope(self, target: AuthTarget) -> str | None:
        """SCO-1: the challenge's scope, else all PRM scopes_supported, else omit; RT-1 offline_access."""
        if self.config.scope:
            scope: str | None = self.config.scope
        elif target.challenge_scope:
            scope = target.challenge_scope
        elif target.prm_scopes:
            scope = " ".join(target.prm_scopes)
        else:
            scope = None
        if scope and self.config.offline_access and "offline_access" in (target.asm.scopes_supported or []):
            scope = union_scopes(scope, "offline_access")
        return scope

    def _step_up_scope(self, current: str | None, challenged: str) -> str:
        """C25 / SCO-3: the union of the scopes we had and the ones the challenge names."""
        return union_scopes(current, challenged)

    # -- 401 / 403 (C14, C08, C17, C19, C20) --------------------------------------------------------
    def _auth_retry_budget(self) -> RequestBudget:
        """C19: at most ``max_refresh_per_request`` refreshes, then interactive, per rejected request."""
        c = self.config
        return RequestBudget(refresh=c.max_refresh_per_request, interactive=c.max_interactive_per_request,
                             step_up=c.max_step_up)

    def _refresh_before_interactive(self) -> bool:
        """C14: a 401 is authoritative; try a silent refresh before any interactive flow."""
        return True

    @property
    def _auth_lock(self) -> asyncio.Lock:
        """The lock around bearer selection, held only briefly (C18)."""
        return self.__dict__.setdefault("_auth_lock_d", asyncio.Lock())

    def _hold_auth_lock_across_response(self) -> bool:
        """C18: never hold the auth lock while waiting on a response body or SSE stream."""
        return False

    async def _on_401(self, sent: TokenRecord | None, challenge: Challenge | None,
                      budget: RequestBudget) -> TokenRecord:
        if budget.rounds:
            await self._backoff(budget.rounds - 1)  # C19: back off on repeated rejections
        budget.rounds += 1
        current = await self._current_token()
        if current is not None and budget.adopt > 0 and (sent is None or self._is_newer(current, sent)):
            budget.adopt -= 1  # C08 / C17: another tab or replica already has a newer token
            self._event("retry_with_current", version=current.version)
            return current
        if (current is not None and current.refresh_token and budget.refresh > 0
                and self._refresh_before_interactive()):
            budget.refresh -= 1
            try:
                return await self._refresh(current)
            except TransientError:
                raise  # C20: keep the credentials; no browser for a 503
            except (CredentialsDead, InteractiveAuthRequired, TokenEndpointError) as exc:
                self._event("refresh_failed", error=exc.classify())
        if budget.interactive <= 0:
            raise Unauthorized("the resource server rejects the token after refresh and re-authorization")
        budget.interactive -= 1
        target = await self._discover(challenge)
        return await self._authorize_interactively(target, self._select_scope(target), rejected=sent)

    async def _on_403(self, sent: TokenRecord | None, challenge: Challenge | None,
                      budget: RequestBudget) -> TokenRecord:
        """SCO-2: step up on 403 insufficient_scope, a bounded number of times."""
        if challenge is None or not challenge.scope:
            raise InsufficientScope("403 insufficient_scope without a scope to step up to")
        if budget.step_up <= 0:
            raise InsufficientScope(f"still insufficient scope after {self.config.max_step_up} step-ups",
                                    error="insufficient_scope")
        budget.step_up -= 1
        current = sent.scope if sent is not None else None
        scope = self._step_up_scope(current, challenge.scope)
        self._event("step_up", scope=scope)
        target = await self._discover(challenge)
        return await self._authorize_interactively(target, scope, rejected=sent)

    # -- public API ---------------------------------------------------------------------------------
    async def tokens(self) -> TokenRecord | None:
        """The stored tokens for (tenant, user, server)."""
        return await self._current_token()

    @contextlib.asynccontextmanager
    async def session(self, actor: str = "tab-1") -> AsyncIterator[ReferenceSession]:
        """An initialized MCP session (mcp SDK over httpx2) whose requests carry our auth."""
        token = ACTOR.set(actor)
        auth = ReferenceAuth(self, actor)
        timeout = httpx2.Timeout(self.config.http_timeout_s, read=max(300.0, self.config.http_timeout_s))
        try:
            async with (
                httpx2.AsyncClient(auth=auth, headers={"x-harness-actor": actor}, timeout=timeout,
                                   transport=self._mcp_transport) as http,
                streamable_http_client(self.server_url, http_client=http) as (read, write),
                ClientSession(read, write) as mcp_session,
            ):
                session = ReferenceSession(self, mcp_session, auth, actor)
                await session.initialize()
                yield session
        except BaseExceptionGroup as group:
            # The SDK's task groups wrap whatever is raised inside the session; give callers the one error.
            leaf = _single_leaf(group)
            if leaf is None:
                raise
            raise leaf from None
        finally:
            ACTOR.reset(token)

    async def __aenter__(self) -> ReferenceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _single_leaf(group: BaseExceptionGroup) -> BaseException | None:
    """The only non-cancellation exception inside nested groups, or None if there are several."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        elif not isinstance(exc, asyncio.CancelledError):
            leaves.append(exc)

    walk(group)
    return leaves[0] if len(leaves) == 1 else None


class ReferenceSession:
    """One tab: an MCP ClientSession whose failures surface as classified :mod:`errors`."""

    def __init__(self, client: ReferenceClient, session: ClientSession, auth: ReferenceAuth, actor: str) -> None:
        self.client = client
        self.mcp = session
        self.auth = auth
        self.actor = actor

    @property
    def errors(self) -> list[ClientError]:
        return self.auth.errors

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        state = RequestAuthState()
        token = REQUEST_STATE.set(state)
        actor_token = ACTOR.set(self.actor)
        try:
            return await fn()
        except Exception as exc:
            if state.errors:
                raise state.errors[-1] from exc
            raise
        finally:
            ACTOR.reset(actor_token)
            REQUEST_STATE.reset(token)

    async def initialize(self) -> Any:
        return await self._call(self.mcp.initialize)

    async def list_tools(self) -> Any:
        return await self._call(self.mcp.list_tools)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        return await self._call(lambda: self.mcp.call_tool(name, arguments or {}))
