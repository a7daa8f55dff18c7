"""The exchange middleware around every app the mock serves.

For each HTTP exchange it:

* assigns an exchange id and journals a ``request`` entry (method, path, endpoint name, actor, redacted
  params) and, when the exchange ends, a ``response`` entry (status, OAuth error, redacted token prefixes,
  redirect parameters, duration);
* holds the request at a ``request`` gate, or the finished response at a ``response`` gate;
* applies the endpoint's fault plan: ``latency``, ``error``, ``html`` and ``drop_after_commit`` (the
  MCP-only actions are the bearer layer's, ``callback_error`` is the authorization endpoint's);
* turns anything unexpected into an RFC 6749-shaped JSON error. An unhandled exception is a bug in the
  mock: the trace goes to stderr and an ``internal_error`` entry to the journal so tests can fail on it.

Requests under ``/_admin`` are not journaled (reading the journal must not change it), only logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_as.context import ServerContext
from mock_as.discovery import html_page
from mock_as.faults import Fault
from mock_as.journal import ACTOR_HEADER, REQUEST_ID_HEADER, redact, redact_mapping

#: Scope keys the middleware sets for the layers below it.
PARAMS_KEY = "mock_as.params"  # dict: form + query + JSON top level (+ method/tool for MCP)
ENDPOINT_KEY = "mock_as.endpoint"
EXCHANGE_KEY = "mock_as.exchange"
AUTH_KEY = "mock_as.auth"  # set by the bearer layer: {"client_id": ..., "token": prefix}
ACTOR_KEY = "mock_as.actor"

MAX_BODY = 4 * 1024 * 1024
_CAPTURE = 256 * 1024  # how much of a JSON response body is kept for the journal
_RESPONSE_FIELDS = ("error", "error_description", "access_token", "refresh_token", "token_type", "expires_in",
                    "scope", "client_id", "client_secret", "id_token")
_SECRETS = {"access_token", "refresh_token", "client_secret", "id_token", "code"}

RequestLog = Callable[[dict[str, Any]], None]
EndpointResolver = Callable[[Scope], str | None]


def json_error(status: int, error: str, description: str | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    raw = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
            (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return status, hdrs, raw


def html_response(status: int, body: str | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    raw = (body if body is not None else html_page(status)).encode()
    return status, [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(raw)).encode())], raw


async def send_raw(send: Send, response: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
    status, headers, body = response
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def header(scope: Scope, name: str) -> str | None:
    key = name.lower().encode()
    for k, v in scope.get("headers", ()):
        if k == key:
            return v.decode("latin-1")
    return None


def parse_params(scope: Scope, body: bytes, endpoint: str | None) -> dict[str, Any]:
    """Form, query and top-level JSON fields in one flat dict; for MCP also ``method`` and ``tool``."""
    params: dict[str, Any] = {}
    for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True).items():
        params[k] = v[0] if len(v) == 1 else v
    ctype = (header(scope, "content-type") or "").split(";")[0].strip().lower()
    if body and ctype == "application/x-www-form-urlencoded":
        for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            params[k] = v[0] if len(v) == 1 else v
    elif body and (ctype.endswith("json") or endpoint == "mcp"):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, list) and doc and isinstance(doc[0], dict):  # a JSON-RPC batch: its first message
            doc = doc[0]
        if isinstance(doc, dict):
            if endpoint == "mcp":
                params["method"] = doc.get("method")
                if "id" in doc:
                    params["rpc_id"] = doc["id"]
                p = doc.get("params")
                if doc.get("method") == "tools/call" and isinstance(p, dict):
                    params["tool"] = p.get("name")
            else:
                params.update({k: v for k, v in doc.items() if not isinstance(v, dict)})
    return params


def basic_client_id(scope: Scope) -> str | None:
    auth = header(scope, "authorization") or ""
    if auth[:6].lower() != "basic ":
        return None
    try:
        from urllib.parse import unquote

        return unquote(base64.b64decode(auth[6:].strip()).decode().split(":", 1)[0])
    except (ValueError, UnicodeDecodeError):
        return None


def bearer_token(scope: Scope) -> str | None:
    auth = header(scope, "authorization") or ""
    if auth[:7].lower() != "bearer ":
        return None
    return auth[7:].strip() or None


def _response_data(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = {"status": status}
    hdrs = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
    ctype = hdrs.get("content-type", "")
    data["content_type"] = ctype.split(";")[0]
    if "json" in ctype and body:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for k in _RESPONSE_FIELDS:
                if k in doc:
                    data[k] = redact(doc[k]) if k in _SECRETS else doc[k]
            if isinstance(doc.get("error"), dict):  # JSON-RPC error object
                data["error"] = doc["error"].get("message")
    if "location" in hdrs:
        loc = hdrs["location"]
        q = {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}
        data["redirect"] = {k: (redact(v) if k == "code" else v) for k, v in q.items()}
        data["location"] = loc.split("?", 1)[0]
    if "www-authenticate" in hdrs:
        data["www_authenticate"] = hdrs["www-authenticate"]
    if "mcp-session-id" in hdrs:
        data["mcp_session"] = hdrs["mcp-session-id"][:8]
    return data


class _Tap:
    """Wraps ``send``: passes messages through (or buffers them) and remembers what the response was."""

    def __init__(self, send: Send, buffer: bool) -> None:
        self._send = send
        self.buffer = buffer
        self.messages: list[Message] = []
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.complete = False
        self.on_complete: Callable[[], None] | None = None
        self._capture = False

    @property
    def started(self) -> bool:
        return self.status is not None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = list(message.get("headers", []))
            ctype = next((v for k, v in self.headers if k.lower() == b"content-type"), b"")
            self._capture = b"json" in ctype
        elif message["type"] == "http.response.body":
            if self._capture and len(self.body) < _CAPTURE:
                self.body += message.get("body", b"")[: _CAPTURE - len(self.body)]
            if not message.get("more_body", False):
                self.complete = True
        if self.buffer:
            self.messages.append(message)
            return
        if self.complete and self.on_complete:
            # journal before the last byte leaves: whoever saw the response finds its entry
            self.on_complete()
        await self._send(message)

    async def flush(self) -> None:
        self.buffer = False
        if self.complete and self.on_complete:
            self.on_complete()
        for message in self.messages:
            await self._send(message)
        self.messages.clear()


async def _buffer_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole request body and return it with a ``receive`` that replays it first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnected before the body arrived
            return None, receive
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def drop_connection(send: Send, receive: Receive) -> bool:
    """Close the client's connection without sending a response.

    uvicorn answers 500 when an app returns (or raises) before starting a response, unless the client is
    already gone. So the transport is closed here, and we wait until uvicorn's protocol has seen the
    connection drop (its ``receive`` then says ``http.disconnect``); after that uvicorn sends nothing.
    ``send`` is uvicorn's bound ``RequestResponseCycle.send``, which carries the transport. Under another
    server (no transport found) this returns False and the caller falls back to an exception.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "close"):
        return False
    transport.close()
    try:
        async with asyncio.timeout(2.0):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass
    return True


class ExchangeMiddleware:
    def __init__(self, ctx: ServerContext, app: ASGIApp, resolve_endpoint: EndpointResolver,
                 request_log: RequestLog | None = None, stopping: threading.Event | None = None) -> None:
        self.ctx = ctx
        self.app = app
        self.resolve_endpoint = resolve_endpoint
        self.request_log = request_log
        # Set by the runner while it shuts down: a request cancelled then (held at a gate, an open stream)
        # ends quietly; its connection is already closed, so uvicorn sends nothing and logs nothing.
        self.stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        journal = self.ctx.journal
        assert journal is not None
        path: str = scope["path"]
        admin = path == "/_admin" or path.startswith("/_admin/")
        try:
            endpoint = None if admin else self.resolve_endpoint(scope)
        except Exception:  # resolving must never take the server down
            endpoint = None
        actor = header(scope, ACTOR_HEADER)
        rid = {"rid": r[:64]} if (r := header(scope, REQUEST_ID_HEADER)) else {}  # journaled with the request
        exchange = journal.new_exchange()
        scope[ENDPOINT_KEY], scope[EXCHANGE_KEY], scope[ACTOR_KEY] = endpoint, exchange, actor
        tap = _Tap(send, buffer=False)
        done = False
        notes: dict[str, Any] = {}

        def finish(status: int | None = None) -> None:
            nonlocal done
            if done:
                return
            done = True
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            status = tap.status if status is None else status
            if not admin:
                data = _response_data(status or 0, tap.headers, bytes(tap.body)) if tap.started else {
                    "status": status}
                if notes.get("dropped"):  # the endpoint answered (and committed); the client got nothing
                    data["committed_status"], data["status"] = data["status"], None
                data.update(notes)
                data["duration_ms"] = duration_ms
                auth = scope.get(AUTH_KEY) or {}
                client_id = data.pop("client_id", None) or auth.get("client_id") or req_client
                journal.record("response", endpoint=endpoint, actor=actor, client_id=client_id, flow=flow,
                               exchange=exchange, **data)
            if self.request_log:
                self.request_log({"method": scope["method"], "path": path, "status": status,
                                  "duration_ms": duration_ms, "endpoint": endpoint or ("admin" if admin else "-"),
                                  "actor": actor, "exchange": exchange, **notes})

        tap.on_complete = finish
        body, receive = await _buffer_body(receive)
        if body is None:
            req_client, flow = None, None
            if not admin:
                journal.record("request", endpoint=endpoint, actor=actor, exchange=exchange,
                               method=scope["method"], path=path, params={}, body_unread=True, **rid)
            await self._respond(tap, json_error(413, "invalid_request", "request body too large or not received"))
            finish()
            return
        params = parse_params(scope, body, endpoint)
        scope[PARAMS_KEY] = params
        req_client = params.get("client_id") if isinstance(params.get("client_id"), str) else None
        req_client = req_client or basic_client_id(scope)
        flow = params.get("state") if endpoint == "authorize" and isinstance(params.get("state"), str) else None
        if not admin:
            extra: dict[str, Any] = {}
            token = bearer_token(scope)
            if token:
                extra["bearer"] = redact(token)
            if "grant_type" in params:
                extra["grant_type"] = params["grant_type"]
            journal.record("request", endpoint=endpoint, actor=actor, client_id=req_client, flow=flow,
                           exchange=exchange, method=scope["method"], path=path,
                           params=redact_mapping({k: v for k, v in params.items() if k != "rpc_id"}), **extra,
                           **rid)
        try:
            await self._handle(scope, receive, send, tap, endpoint, params, exchange, actor, notes)
        except asyncio.CancelledError:
            notes["cancelled"] = True
            if self.stopping is None or not self.stopping.is_set():
                raise
        except HTTPException as exc:
            if not tap.started:
                error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
                desc = exc.detail if exc.detail and exc.status_code not in (404, 405) else {
                    404: f"no endpoint at {path}",
                    405: f"{scope['method']} is not allowed on {path}"}.get(exc.status_code, str(exc.detail))
                await self._respond(tap, json_error(exc.status_code, error, desc, dict(exc.headers or {})))
        except Exception as exc:  # a bug in the mock: loud in stderr and in the journal, RFC-shaped on the wire
            trace = traceback.format_exc()
            print(f"mock_as: internal error on {scope['method']} {path}:\n{trace}", file=sys.stderr, flush=True)
            journal.record("internal_error", endpoint=endpoint, actor=actor, exchange=exchange,
                           error=f"{type(exc).__name__}: {exc}", path=path, trace=trace[-4000:])
            if not tap.started:
                await self._respond(tap, json_error(500, "server_error",
                                                    f"internal error in the mock: {type(exc).__name__}: {exc}"))
            else:
                raise
        finally:
            finish()

    async def _respond(self, tap: _Tap, response: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        tap.buffer = False
        await send_raw(tap, response)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, tap: _Tap, endpoint: str | None,
                      params: dict[str, Any], exchange: int, actor: str | None, notes: dict[str, Any]) -> None:
        ctx = self.ctx
        if endpoint is None:
            await self.app(scope, receive, tap)
            return
        gate = ctx.gates.matching(endpoint, "request", params)
        if gate is not None:
            await self._hold(gate, endpoint, exchange, actor, params)
        latency = ctx.faults.take(endpoint, params, actions=("latency",))
        if latency is not None:
            self._journal_fault(latency, endpoint, exchange, actor, notes)
            await asyncio.sleep(latency.latency_s)
        fault = ctx.faults.take(endpoint, params, actions=("error", "html", "drop_after_commit"))
        if fault is not None:
            self._journal_fault(fault, endpoint, exchange, actor, notes)
            if fault.action == "error":
                await self._respond(tap, fault_error_response(fault))
                return
            if fault.action == "html":
                await self._respond(tap, html_response(fault.status or 502, fault.body))
                return
        response_gate = ctx.gates.matching(endpoint, "response", params)
        if response_gate is not None and scope["method"] == "GET" and endpoint == "mcp":
            response_gate = None  # a GET stream never finishes: holding its "response" would hold it forever
        tap.buffer = fault is not None or response_gate is not None
        await self.app(scope, receive, tap)
        if response_gate is not None:
            await self._hold(response_gate, endpoint, exchange, actor, params)
        if fault is not None:  # drop_after_commit: the endpoint has done its work; the client hears nothing
            notes["dropped"] = True
            tap.messages.clear()
            if tap.on_complete:
                tap.on_complete()  # journaled before the client sees the connection drop
            if not await drop_connection(send, receive):
                raise RuntimeError("drop_after_commit needs uvicorn's transport to close the connection")
            return
        await tap.flush()

    async def _hold(self, gate: Any, endpoint: str, exchange: int, actor: str | None,
                    params: dict[str, Any]) -> None:
        journal = self.ctx.journal
        assert journal is not None
        journal.record("gate_held", endpoint=endpoint, actor=actor, exchange=exchange, gate=gate.name,
                       phase=gate.phase, waiting=gate.waiting + 1)
        released = await gate.hold({"exchange": exchange, "actor": actor, "params": redact_mapping(params)})
        journal.record("gate_released", endpoint=endpoint, actor=actor, exchange=exchange, gate=gate.name,
                       phase=gate.phase, timed_out=not released)

    def _journal_fault(self, fault: Fault, endpoint: str, exchange: int, actor: str | None,
                       notes: dict[str, Any]) -> None:
        assert self.ctx.journal is not None
        self.ctx.journal.record("fault_injected", endpoint=endpoint, actor=actor, exchange=exchange,
                                fault=fault.id, action=fault.action, fired=fault.fired, times=fault.times,
                                status=fault.status, error=fault.error)
        notes.setdefault("fault", fault.action)


def fault_error_response(fault: Fault) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The ``error`` action: an OAuth JSON error, or ``body`` verbatim (a non-standard error)."""
    status = fault.status or (400 if fault.error else 503)
    if fault.body is not None:
        raw = fault.body.encode()
        try:
            json.loads(raw)
            ctype = b"application/json"
        except ValueError:
            ctype = b"text/plain; charset=utf-8"
        return status, [(b"content-type", ctype), (b"content-length", str(len(raw)).encode())], raw
    error = fault.error or ("temporarily_unavailable" if status == 503 else "server_error")
    return json_error(status, error, fault.error_description)


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
