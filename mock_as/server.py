"""MockServer: the mock AS + MCP server on real loopback sockets, in a background thread.

::

    with MockServer(knobs=Knobs(...), clock=ManualClock()) as srv:
        srv.urls.issuer, srv.mcp_url, srv.journal, srv.gates, ...

The sockets are bound in ``start()`` before anything is served, so the URLs (port 0 picks a free port)
are known when the apps are built. uvicorn runs on its own event loop (uvloop when installed) in a daemon
thread. ``stop()`` skips uvicorn's polling shutdown (it sleeps in 100 ms steps): it stops listening,
closes idle connections, gives in-flight requests a short grace, cancels the rest (held gates, open SSE
streams) and ends the MCP lifespan; a start/stop pair takes a few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from mock_as.app import Control, build_apps
from mock_as.clock import Clock, SystemClock
from mock_as.context import ServerContext, Urls
from mock_as.faults import Fault, FaultPlan
from mock_as.gates import Gate, Gates
from mock_as.journal import Journal
from mock_as.knobs import Knobs
from mock_as.middleware import RequestLog

try:  # pragma: no cover - depends on the install
    import uvloop

    _loop_factory: Any = uvloop.new_event_loop
except ImportError:  # pragma: no cover
    _loop_factory = asyncio.new_event_loop

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def origin_for(host: str, port: int) -> str:
    h = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    return f"http://[{h}]:{port}" if ":" in h else f"http://{h}:{port}"


class MockServer:
    """The mock servers of one scenario. Thread-safe to drive from the test thread."""

    def __init__(self, knobs: Knobs | None = None, clock: Clock | None = None, host: str = "127.0.0.1",
                 port: int = 0, *, as_port: int = 0, public_host: str | None = None,
                 request_log: RequestLog | None = None, admin_token: str | None = None,
                 grace_s: float = 0.1) -> None:
        self.ctx = ServerContext(knobs=knobs if knobs is not None else Knobs(), clock=clock or SystemClock())
        self.host = host
        self.port = port
        self.as_port = as_port
        self.public_host = public_host
        self.request_log = request_log
        if admin_token is None and host not in LOOPBACK:
            # Off loopback the admin API (which can revoke, reset and read every token prefix) is never open.
            admin_token = secrets.token_urlsafe(24)
        self.admin_token = admin_token
        self.grace_s = grace_s  # how long in-flight requests get to finish on stop() before being cancelled
        self.control: Control | None = None
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> MockServer:
        if self._thread is not None:
            raise RuntimeError("this MockServer is already started; make a new one to serve again")
        separate = self.ctx.knobs.layout == "as_separate_origin"
        self._sockets = [bind_socket(self.host, self.port)]
        try:
            if separate:
                self._sockets.append(bind_socket(self.host, self.as_port))
            ports = [s.getsockname()[1] for s in self._sockets]
            public = self.public_host or self.host
            origin = origin_for(public, ports[0])
            as_origin = origin_for(public, ports[1]) if separate else None
            self.control = Control(self.ctx, origin, as_origin)
            mcp_app, as_app = build_apps(self.ctx, control=self.control, host=self.host,
                                         request_log=self.request_log, admin_token=self.admin_token,
                                         stopping=self._stopping)
        except BaseException:
            self._close_sockets()
            raise
        apps: list[ASGIApp] = [mcp_app] + ([as_app] if as_app is not None else [])
        self._thread = threading.Thread(target=self._run, args=(apps,), name=f"mock_as:{ports[0]}", daemon=True)
        self._thread.start()
        if not self._ready.wait(15.0):
            self.stop()
            raise RuntimeError("the mock server did not start within 15 s")
        if self._error is not None:
            self._thread.join(5.0)
            self._close_sockets()
            raise RuntimeError(f"the mock server failed to start: {self._error!r}") from self._error
        return self

    def stop(self) -> None:
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(event.set)
        thread.join(10.0)
        self._close_sockets()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _run(self, apps: list[ASGIApp]) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory) as runner:
                runner.run(self._serve(apps))
        except BaseException as exc:  # noqa: BLE001 - reported to start(), never lost
            if self._error is None:
                self._error = exc
            self._ready.set()

    async def _serve(self, apps: list[ASGIApp]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        servers: list[uvicorn.Server] = []
        try:
            for app, sock in zip(apps, self._sockets, strict=True):
                config = uvicorn.Config(app, lifespan="on", interface="asgi3", log_config=None,
                                        log_level="warning", access_log=False, ws="none", proxy_headers=False,
                                        server_header=False, timeout_keep_alive=30)
                config.load()
                server = uvicorn.Server(config)
                server.lifespan = config.lifespan_class(config)
                servers.append(server)
                await server.startup(sockets=[sock])
            self._ready.set()
            await self._stop_event.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            await self._shutdown(servers)

    async def _shutdown(self, servers: list[uvicorn.Server]) -> None:
        for server in servers:
            for listener in getattr(server, "servers", []):
                listener.close()
        for server in servers:
            for conn in list(server.server_state.connections):
                conn.shutdown()  # idle keep-alive connections close now; busy ones after their response
        tasks = {t for server in servers for t in server.server_state.tasks if not t.done()}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.grace_s)
            if pending:
                # Held at a gate, or a long-lived stream: close the connection first (the client sees it
                # drop, uvicorn sends nothing more), then cancel the request.
                self._stopping.set()
                self._close_connections(servers)
                await asyncio.sleep(0)
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=2.0)
        self._close_connections(servers)
        for server in servers:
            if getattr(server, "started", False) or server.lifespan.startup_event.is_set():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.lifespan.shutdown(), 5.0)
        await asyncio.sleep(0)  # let connection_lost callbacks run before the loop closes

    @staticmethod
    def _close_connections(servers: list[uvicorn.Server]) -> None:
        for server in servers:
            for conn in list(server.server_state.connections):
                transport = getattr(conn, "transport", None)
                if transport is not None:
                    transport.close()

    # -- what tests read --------------------------------------------------------------------------

    @property
    def urls(self) -> Urls:
        if self.ctx.urls is None:
            raise RuntimeError("the URLs are known once the server is started")
        return self.ctx.urls

    @property
    def mcp_url(self) -> str:
        return self.urls.resource

    @property
    def admin_url(self) -> str:
        return self.urls.origin + "/_admin"

    @property
    def journal(self) -> Journal:
        assert self.ctx.journal is not None
        return self.ctx.journal

    @property
    def gates(self) -> Gates:
        return self.ctx.gates

    @property
    def faults(self) -> FaultPlan:
        return self.ctx.faults

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def knobs(self) -> Knobs:
        return self.ctx.knobs

    @property
    def state(self) -> Any:
        return self.ctx.state

    # -- what tests do ----------------------------------------------------------------------------

    def _control(self) -> Control:
        if self.control is None:
            raise RuntimeError("start the server first")
        return self.control

    def set_knobs(self, **changes: Any) -> Knobs:
        """Validated (KnobError, one line) and journaled as ``knobs_changed``; URLs follow the layout."""
        return self._control().set_knobs(**changes)

    def arm_gate(self, gate: Gate) -> Gate:
        return self._control().arm_gate(gate)

    def arm_fault(self, fault: Fault | dict[str, Any]) -> Fault:
        return self._control().arm_fault(fault)

    def revoke_access_tokens(self, client_id: str | None = None) -> int:
        return self._control().revoke_access_tokens(client_id)

    def expire_access_tokens(self, client_id: str | None = None) -> int:
        return self._control().expire_access_tokens(client_id)

    def advance_clock(self, seconds: float | str) -> float:
        """Move a ManualClock forward (journaled as ``clock_advanced``)."""
        return self._control().advance_clock(seconds)

    def reset(self) -> None:
        """Initial knobs, no faults or gates, empty AS state and journal."""
        self._control().reset()


def measure_start_stop(n: int = 5, **kwargs: Any) -> float:
    """Mean seconds for one start()+stop(): for benchmarks and the speed test, never a timed assertion."""
    t0 = time.perf_counter()
    for _ in range(n):
        with MockServer(**kwargs):
            pass
    return (time.perf_counter() - t0) / n
