"""One request at a time, in a fixed order: how the race machines make a concurrent client deterministic.

Several tabs and replicas run at once on one asyncio loop, and the mock answers from another thread.
Left alone, which request reaches the mock first is up to the two threads' timing, so the same rules
could produce different interleavings, and hypothesis could neither replay nor shrink a failure. So the
in-process client's HTTP transports are wrapped (:class:`Traffic`), and every request first waits for
its *turn*:

* a request that reaches the transport joins a FIFO queue (the loop's own order, which is deterministic);
* :meth:`World.settle <suites.properties.driver.World.settle>` grants the next turn only when the world
  is **stable**: every granted request is answered or parked at one of the mock's gates, the mock has no
  exchange it is still working on, and the client's loop has no callback ready to run;
* a request parked at a gate no longer blocks the others (that is how a race is staged), and a
  released one runs alone before the next turn.

So the only interleavings are those the machine's rules create: which gates hold what, when they
release, and the order of the rules. Nothing waits on a quiet window ("nothing moved for 30 ms").

What "stable" observes:

1. **requests in flight**: each carries an ``x-harness-request`` id, which the mock journals. A request
   is in flight from its turn until its response headers arrive, and again while its body is read (a
   client that holds a 401 unread while it refreshes waits on the refresh, not on that response; a
   long-lived ``GET`` event stream stops counting once established);
2. **the mock's exchanges**, from the journal: which are unanswered, which of those are parked;
3. **the client's loop**: no ready callback. Lock and flow waiters poll the store, but the machines'
   ``MemoryStore`` wakes them on every write (``wait_changed``), so a waiter that can proceed is ready.

A stopped replica's requests fail at once with a connection error (:meth:`Traffic.kill`): a process that
is gone sends nothing, not even the MCP session's closing ``DELETE``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2

from mock_as.journal import REQUEST_ID_HEADER

STOPPED = "has stopped (the race machine stopped this replica)"


class _Stopped(Exception):
    """The owner of a queued request was stopped."""


class _DropStoppedReplicaNoise(logging.Filter):
    """The mcp SDK warns "Session termination failed" when a stopped replica's session cannot send its
    closing DELETE; for a replica the machine stopped on purpose, that is expected, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return STOPPED not in record.getMessage()


logging.getLogger("mcp.client.streamable_http").addFilter(_DropStoppedReplicaNoise())


@dataclass
class _Waiting:
    rid: str
    owner: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class Traffic:
    """The turn queue and the requests in flight of every in-process client of one world (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._queue: list[_Waiting] = []
        self.inflight: set[str] = set()
        self.dead: set[str] = set()
        self.version = 0  # bumped by every change here and (via poke) by every journal entry

    # -- the client's side (its event loop) ----------------------------------------------------------
    def port(self, owner: str) -> Port:
        """Transports for one client instance (a replica generation); see :meth:`kill`."""
        return Port(self, owner)

    async def turn(self, owner: str) -> str:
        """Wait for this request's turn; returns its id. Raises :class:`_Stopped` if ``owner`` was killed."""
        loop = asyncio.get_running_loop()
        with self._cond:
            if owner in self.dead:
                raise _Stopped(owner)
            waiting = _Waiting(f"r{next(self._ids)}", owner, loop, loop.create_future())
            self._queue.append(waiting)
            self._bump()
        try:
            await waiting.future
        except BaseException:
            self.end(waiting.rid)
            raise
        return waiting.rid

    def resume(self, rid: str) -> None:
        """The client waits on the network for ``rid`` again (it reads the response body)."""
        with self._cond:
            self.inflight.add(rid)
            self._bump()

    def end(self, rid: str) -> None:
        with self._cond:
            before = len(self._queue)
            self._queue = [w for w in self._queue if w.rid != rid]
            if rid in self.inflight or len(self._queue) != before:
                self.inflight.discard(rid)
                self._bump()

    # -- the machine's side --------------------------------------------------------------------------
    def grant_next(self) -> bool:
        """Give the oldest queued request its turn (call only when the world is stable)."""
        with self._cond:
            if not self._queue:
                return False
            w = self._queue.pop(0)
            self.inflight.add(w.rid)
            self._bump()
        w.loop.call_soon_threadsafe(_resolve, w.future, None)
        return True

    def kill(self, owner: str) -> None:
        """``owner``'s process is gone: its queued and future requests fail with a connection error."""
        with self._cond:
            self.dead.add(owner)
            doomed = [w for w in self._queue if w.owner == owner]
            self._queue = [w for w in self._queue if w.owner != owner]
            self._bump()
        for w in doomed:
            w.loop.call_soon_threadsafe(_resolve, w.future, _Stopped(owner))

    def poke(self, *_: Any) -> None:
        """Count an outside change (subscribe this to the mock's journal)."""
        with self._cond:
            self._bump()

    def snapshot(self) -> tuple[int, frozenset[str], int]:
        """(version, requests in flight, requests waiting for a turn)."""
        with self._cond:
            return self.version, frozenset(self.inflight), len(self._queue)

    def wait_change(self, since: int, timeout: float) -> bool:
        """Block until :attr:`version` differs from ``since`` (True) or ``timeout`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.version != since, timeout)

    def _bump(self) -> None:  # with self._cond held
        self.version += 1
        self._cond.notify_all()


def _resolve(fut: asyncio.Future[None], exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)


class Port:
    """What one client instance is given: transports for its httpx and httpx2 clients."""

    def __init__(self, traffic: Traffic, owner: str) -> None:
        self.traffic, self.owner = traffic, owner

    def httpx(self) -> httpx.AsyncBaseTransport:
        """A transport for an ``httpx.AsyncClient`` (the OAuth side, the user agent)."""
        return _TrackedHttpx(self.traffic, self.owner)

    def httpx2(self) -> Any:
        """A transport for an ``httpx2.AsyncClient`` (the mcp SDK session)."""
        return _TrackedHttpx2(self.traffic, self.owner)


def _is_event_stream(method: str, headers: Any) -> bool:
    return method == "GET" and str(headers.get("content-type", "")).startswith("text/event-stream")


class _CountWhileReading:
    """Wraps a response byte stream: the request counts as in flight while its body is being read."""

    def __init__(self, inner: Any, traffic: Traffic, rid: str) -> None:
        self._inner, self._traffic, self._rid = inner, traffic, rid

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._traffic.resume(self._rid)
        try:
            async for chunk in self._inner:
                yield chunk
        finally:  # (also when the reader is cancelled: the cancellation passes through here)
            self._traffic.end(self._rid)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._traffic.end(self._rid)


class _Tracked:
    """Shared logic of the two wrappers; a subclass names its HTTP library (httpx or httpx2, whose
    transport, stream and error classes have the same names) and its body-stream wrapper."""

    _lib: Any
    _stream: type[_CountWhileReading]

    def __init__(self, traffic: Traffic, owner: str) -> None:
        self._traffic, self._owner = traffic, owner
        self._inner: Any = None  # made lazily: an AsyncClient closes its transport on exit, and is remade

    async def handle_async_request(self, request: Any) -> Any:
        try:
            rid = await self._traffic.turn(self._owner)
        except _Stopped:
            raise self._lib.ConnectError(f"{self._owner} {STOPPED}", request=request) from None
        request.headers[REQUEST_ID_HEADER] = rid
        if self._inner is None:
            self._inner = self._lib.AsyncHTTPTransport()
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            self._traffic.end(rid)  # headers are in (or the request failed)
        if not _is_event_stream(request.method, response.headers):  # a GET stream never ends: not wrapped
            response.stream = self._stream(response.stream, self._traffic, rid)
        return response

    async def aclose(self) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.aclose()


class _CountWhileReadingHttpx(_CountWhileReading, httpx.AsyncByteStream):
    pass


class _CountWhileReadingHttpx2(_CountWhileReading, httpx2.AsyncByteStream):
    pass


class _TrackedHttpx(_Tracked, httpx.AsyncBaseTransport):
    _lib = httpx
    _stream = _CountWhileReadingHttpx


class _TrackedHttpx2(_Tracked, httpx2.AsyncBaseTransport):
    _lib = httpx2
    _stream = _CountWhileReadingHttpx2
