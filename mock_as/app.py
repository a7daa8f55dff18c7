"""The app factory: the AS routes, the MCP resource server, discovery documents and the admin API, per layout.

``build_apps(ctx) -> (mcp_app, as_app | None)``: ``as_app`` exists only when the AS has its own origin.
Routing follows ``ctx.knobs`` at request time (a router per layout is built on first use and cached), so
``PATCH /_admin/knobs {"layout": "issuer_path"}`` takes effect on the next request. Both apps are wrapped
in :class:`mock_as.middleware.ExchangeMiddleware`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import fields
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_as.admin import ClockNotManual, admin_routes
from mock_as.authorization import (
    authorization_metadata,
    authorization_routes,
    build_authorization,
    openid_metadata,
)
from mock_as.context import ServerContext
from mock_as.discovery import (
    AS_WK,
    MCP_PATH,
    OIDC_WK,
    Plan,
    classify_well_known,
    compute_urls,
    forced_status_for,
    plan_for,
    protected_resource_metadata,
)
from mock_as.faults import ENDPOINTS, Fault
from mock_as.gates import Gate
from mock_as.journal import redact_mapping
from mock_as.knobs import KnobError, Knobs, parse_duration
from mock_as.middleware import (
    ACTOR_KEY,
    EXCHANGE_KEY,
    ExchangeMiddleware,
    RequestLog,
    html_response,
    json_error,
    send_raw,
)
from mock_as.resource import BearerLayer, McpEndpoint, challenge
from mock_as.second_as import second_as


class Control:
    """What a test (through MockServer) or a person (through the admin API) can do to a running mock."""

    def __init__(self, ctx: ServerContext, origin: str, as_origin: str | None = None) -> None:
        self.ctx = ctx
        self.origin = origin
        self.as_origin = as_origin  # the second server's origin, when one runs
        self.initial_knobs = ctx.knobs
        self._lock = threading.Lock()
        self._check_layout(ctx.knobs)
        self.refresh_urls()

    @property
    def journal(self) -> Any:
        assert self.ctx.journal is not None
        return self.ctx.journal

    def _check_layout(self, knobs: Knobs) -> None:
        if knobs.layout == "as_separate_origin" and self.as_origin is None:
            raise KnobError("layout as_separate_origin needs a second origin for the AS: start the server with "
                            "that layout (it cannot be switched on while running)")

    def refresh_urls(self) -> None:
        """Recompute ``ctx.urls`` for the current layout, in place (holders of the object see the change)."""
        new = compute_urls(self.ctx.knobs, self.origin, self.as_origin)
        if self.ctx.urls is None:
            self.ctx.urls = new
        else:
            for f in fields(new):
                setattr(self.ctx.urls, f.name, getattr(new, f.name))

    def set_knobs(self, **changes: Any) -> Knobs:
        """Validated (KnobError with a one-line message) and journaled as ``knobs_changed``."""
        with self._lock:
            new = self.ctx.knobs.patched(changes)
            self._check_layout(new)
            with self.ctx.lock:
                self.ctx.knobs = new
                self.refresh_urls()
        dumped = new.model_dump(mode="json")
        self.journal.record("knobs_changed", changes=redact_mapping({k: dumped[k] for k in changes}))
        return new

    def arm_fault(self, fault: Fault | dict[str, Any]) -> Fault:
        armed = self.ctx.faults.arm(fault)
        self.journal.record("fault_armed", endpoint=armed.endpoint, fault=armed.id, action=armed.action,
                            times=armed.times, match=armed.match)
        return armed

    def arm_gate(self, gate: Gate) -> Gate:
        armed = self.ctx.gates.arm(gate)
        self.journal.record("gate_armed", endpoint=gate.endpoint, gate=gate.name, phase=gate.phase,
                            match=gate.match, release_at=gate.release_at)
        return armed

    def revoke_access_tokens(self, client_id: str | None = None) -> int:
        return int(self.ctx.state.revoke_access_tokens(client_id) or 0)

    def expire_access_tokens(self, client_id: str | None = None) -> int:
        n = int(self.ctx.state.expire_access_tokens(client_id) or 0)
        self.journal.record("tokens_expired", endpoint="admin", client_id=client_id, count=n)
        return n

    def advance_clock(self, by: Any) -> float:
        advance = getattr(self.ctx.clock, "advance", None)
        if advance is None:
            raise ClockNotManual("the server runs on the system clock; start it with a manual clock "
                                 "(mock-as serve --manual-clock) to move time")
        seconds = parse_duration(by)
        now = float(advance(seconds))
        self.journal.record("clock_advanced", seconds=seconds, now=now)
        return now

    def reset(self) -> None:
        """Back to the start: initial knobs, no faults or gates, empty AS state and journal."""
        ctx = self.ctx
        ctx.gates.clear()
        ctx.faults.clear()
        with ctx.lock:
            ctx.knobs = self.initial_knobs
            self.refresh_urls()
        if ctx.state is not None:
            ctx.state.reset()
        self.journal.clear()
        self.journal.record("reset")


def second_as_routes(ctx: ServerContext, path: str) -> list[BaseRoute]:
    """The second AS (``knobs.second_as_path``, C26): its metadata and its endpoints under ``path``."""
    sub = second_as(ctx)
    assert sub is not None

    async def as_meta(request: Request) -> Response:
        return _json(authorization_metadata(sub))

    async def oidc_meta(request: Request) -> Response:
        return _json(openid_metadata(sub))

    return [Route(AS_WK + path, as_meta, methods=["GET", "HEAD"], name="as_metadata"),
            Route(OIDC_WK + path, oidc_meta, methods=["GET", "HEAD"], name="oidc_metadata"),
            Route(path + OIDC_WK, oidc_meta, methods=["GET", "HEAD"], name="oidc_metadata"),
            Mount(path, routes=authorization_routes(sub), name="second_as")]


def _json(doc: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(doc), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})


class Routing:
    """The router of one origin ("mcp" or "as") for the current layout, and endpoint naming."""

    def __init__(self, ctx: ServerContext, role: str, mcp: McpEndpoint | None, as_routes: list[BaseRoute],
                 admin: list[BaseRoute]) -> None:
        self.ctx = ctx
        self.role = role
        self.mcp = mcp
        self.as_routes = as_routes
        self.admin = admin
        self._cache: dict[tuple[Any, ...], Router] = {}
        self._lock = threading.Lock()

    def router(self) -> Router:
        plan = plan_for(self.ctx.knobs)
        with self._lock:
            router = self._cache.get(plan.key)
            if router is None:
                router = self._cache[plan.key] = Router(self._routes(plan))
        return router

    def _serves_as(self, plan: Plan) -> bool:
        return plan.separate_as == (self.role == "as")

    def _routes(self, plan: Plan) -> list[BaseRoute]:
        ctx = self.ctx
        routes: list[BaseRoute] = [Mount("/_admin", routes=self.admin, name="admin")]
        if self._serves_as(plan):
            async def as_meta(request: Request) -> Response:
                return _json(authorization_metadata(ctx))

            async def oidc_meta(request: Request) -> Response:
                return _json(openid_metadata(ctx))

            routes += [Route(p, as_meta, methods=["GET", "HEAD"], name="as_metadata")
                       for p in plan.as_metadata_paths]
            routes += [Route(p, oidc_meta, methods=["GET", "HEAD"], name="oidc_metadata") for p in plan.oidc_paths]
            if plan.issuer_prefix:
                routes.append(Mount(plan.issuer_prefix, routes=self.as_routes, name="issuer"))
            else:
                routes += self.as_routes
        if self.role == "mcp":
            if plan.second_as_path:
                routes += second_as_routes(ctx, plan.second_as_path)
            if plan.prm_path:
                async def prm(request: Request) -> Response:
                    return _json(protected_resource_metadata(ctx))

                routes.append(Route(plan.prm_path, prm, methods=["GET", "HEAD"], name="prm"))
            assert self.mcp is not None
            routes.append(Route(MCP_PATH, BearerLayer(ctx, self.mcp.app), name="mcp"))
        return routes

    def resolve_endpoint(self, scope: Scope) -> str | None:
        """The endpoint name a request is for (``ENDPOINTS``), served in this layout or not."""
        for route in self.router().routes:
            match, child = route.matches(scope)
            if match is Match.NONE:
                continue
            if isinstance(route, Mount):
                if route.name == "admin":
                    return None
                sub = {**scope, **child}
                for inner in route.routes:
                    if inner.matches(sub)[0] is not Match.NONE:
                        return inner.name if inner.name in ENDPOINTS else None  # type: ignore[attr-defined]
                continue
            name = getattr(route, "name", None)
            return name if name in ENDPOINTS else None
        return classify_well_known(scope["path"])


class MockApp:
    """One origin's ASGI app under the middleware: forced statuses, routing, the MCP lifespan."""

    def __init__(self, ctx: ServerContext, routing: Routing) -> None:
        self.ctx = ctx
        self.routing = routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        scope["app"] = self  # makes starlette's routers raise HTTPException for 404/405 (shaped as JSON above us)
        status = forced_status_for(self.ctx.knobs, scope["path"])
        if status is not None:
            assert self.ctx.journal is not None
            self.ctx.journal.record("fault_injected", endpoint=self.routing.resolve_endpoint(scope),
                                    actor=scope.get(ACTOR_KEY), exchange=scope.get(EXCHANGE_KEY),
                                    action="well_known_status", status=status, path=scope["path"])
            if status != 200:
                await send_raw(send, self._forced(scope["path"], status))
                return
            doc = self._natural_document(scope["path"])
            if doc is not None and not self._routed(scope):
                await send_raw(send, (200, [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(doc)).encode())], doc))
                return
        await self.routing.router()(scope, receive, send)

    def _routed(self, scope: Scope) -> bool:
        return any(r.matches(scope)[0] is Match.FULL for r in self.routing.router().routes
                   if getattr(r, "name", None) != "admin")

    def _natural_document(self, path: str) -> bytes | None:
        """What a forced 200 serves on a well-known URL this layout does not otherwise serve."""
        kind = classify_well_known(path)
        if kind == "as_metadata":
            return json.dumps(authorization_metadata(self.ctx)).encode()
        if kind == "oidc_metadata":
            return json.dumps(openid_metadata(self.ctx)).encode()
        if kind == "prm":
            return json.dumps(protected_resource_metadata(self.ctx)).encode()
        return None

    def _forced(self, path: str, status: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """A forced status, with the body a real deployment tends to give it (C23)."""
        well_known = classify_well_known(path) is not None
        if status >= 500 and status != 500 or (status == 404 and not well_known):
            return html_response(status)
        if status == 401:
            return json_error(401, "invalid_token", "authentication required",
                              {"WWW-Authenticate": challenge(self.ctx)})
        error = {400: "invalid_request", 403: "access_denied", 404: "not_found", 500: "server_error"}.get(
            status, "invalid_request")
        if status < 400:
            error = "forced_status"
        return json_error(status, error, f"status {status} forced by knobs.well_known_status for {path}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        mcp = self.routing.mcp if self.routing.role == "mcp" else None
        message = await receive()
        assert message["type"] == "lifespan.startup"
        if mcp is None:
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        try:
            async with mcp.lifespan():
                await send({"type": "lifespan.startup.complete"})
                await receive()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


def build_apps(ctx: ServerContext, *, control: Control | None = None, host: str = "127.0.0.1",
               request_log: RequestLog | None = None,
               admin_token: str | None = None,
               stopping: threading.Event | None = None) -> tuple[ASGIApp, ASGIApp | None]:
    """The MCP origin's app and, when the AS has its own origin, the AS's app.

    ``ctx.urls`` must be set (or ``control`` given): the runner binds its sockets first.
    """
    if control is None:
        assert ctx.urls is not None, "set ctx.urls (or pass a Control) before building the apps"
        separate = ctx.urls.as_origin != ctx.urls.origin
        control = Control(ctx, ctx.urls.origin, ctx.urls.as_origin if separate else None)
    build_authorization(ctx)
    as_routes = authorization_routes(ctx)
    admin = admin_routes(control, admin_token)
    mcp = McpEndpoint(host)
    main = Routing(ctx, "mcp", mcp, as_routes, admin)
    mcp_app = ExchangeMiddleware(ctx, MockApp(ctx, main), main.resolve_endpoint, request_log, stopping)
    as_app: ASGIApp | None = None
    if control.as_origin is not None:
        second = Routing(ctx, "as", None, as_routes, admin)
        as_app = ExchangeMiddleware(ctx, MockApp(ctx, second), second.resolve_endpoint, request_log,
                                      stopping)
    return mcp_app, as_app


__all__ = ["Control", "build_apps"]
