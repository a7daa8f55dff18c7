"""Gates: hold matching requests until the test releases them, or until N are waiting.

This is how race scenarios force an interleaving without sleeps. The server (an asyncio loop in its own
thread) parks a request at a gate; the test (another thread) waits until the expected number are parked,
then releases them in the order it chooses.

Phases:
  * ``request``: the request is held before the endpoint sees it;
  * ``response``: the endpoint runs (and commits, e.g. rotates a refresh token), then the response is
    held. This is the "hold the refresh response" gate of C08/C09.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["request", "response"]

_ids = itertools.count(1)


@dataclass
class _Held:
    seq: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    info: dict[str, Any]


@dataclass
class Gate:
    """One gate. ``match`` is compared with the request's endpoint params (form, query and JSON fields)."""

    name: str
    endpoint: str
    match: dict[str, str] = field(default_factory=dict)
    phase: Phase = "request"
    release_at: int | None = None  # release everyone as soon as this many are waiting (a barrier)
    max_holds: int | None = None  # hold at most this many requests in total; later ones pass straight
    timeout_s: float = 15.0  # safety net: a held request is released after this long (never an ordering tool)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting: list[_Held] = []
        self._held_total = 0
        self._released_total = 0
        self._timed_out = 0
        self._open = False

    def matches(self, endpoint: str, params: dict[str, Any]) -> bool:
        if self._open or endpoint != self.endpoint:
            return False
        if self.max_holds is not None and self._held_total >= self.max_holds:
            return False
        return all(str(params.get(k)) == str(v) for k, v in self.match.items())

    async def hold(self, info: dict[str, Any] | None = None) -> bool:
        """Park the current request. Returns False if it was released by the safety timeout."""
        loop = asyncio.get_running_loop()
        held = _Held(next(_ids), loop, loop.create_future(), info or {})
        with self._cond:
            self._waiting.append(held)
            self._held_total += 1
            self._cond.notify_all()
            barrier_full = self.release_at is not None and len(self._waiting) >= self.release_at
        if barrier_full:
            self.release()
        try:
            await asyncio.wait_for(asyncio.shield(held.future), self.timeout_s)
            return True
        except TimeoutError:
            with self._cond:
                if held in self._waiting:
                    self._waiting.remove(held)
                self._timed_out += 1
                self._cond.notify_all()
            return False

    # -- the test's side (any thread) --------------------------------------------------------------

    def wait_waiting(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least n requests are parked here."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._waiting) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def release(self, count: int | None = None) -> int:
        """Release the ``count`` oldest parked requests (all when None). Returns how many."""
        with self._cond:
            take = self._waiting if count is None else self._waiting[:count]
            self._waiting = [] if count is None else self._waiting[count:]
            self._released_total += len(take)
            self._cond.notify_all()
        for held in take:
            held.loop.call_soon_threadsafe(_set_done, held.future)
        return len(take)

    def open(self) -> None:
        """Release everyone and let all later requests through."""
        self._open = True
        self.release()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def oldest(self) -> int | None:
        """A global arrival number of the oldest parked request (comparable across gates), or None."""
        with self._lock:
            return self._waiting[0].seq if self._waiting else None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"name": self.name, "endpoint": self.endpoint, "match": self.match, "phase": self.phase,
                    "release_at": self.release_at, "max_holds": self.max_holds, "waiting": len(self._waiting),
                    "held_total": self._held_total, "released_total": self._released_total,
                    "timed_out": self._timed_out, "open": self._open}


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Gates:
    """The registry of armed gates, shared by the server and the test."""

    def __init__(self) -> None:
        self._gates: dict[str, Gate] = {}
        self._lock = threading.Lock()

    def arm(self, gate: Gate) -> Gate:
        with self._lock:
            if gate.name in self._gates:
                raise ValueError(f"a gate named {gate.name!r} is already armed; pick another name or remove it")
            self._gates[gate.name] = gate
        return gate

    def get(self, name: str) -> Gate:
        with self._lock:
            try:
                return self._gates[name]
            except KeyError:
                raise KeyError(f"no gate named {name!r}; armed: {sorted(self._gates)}") from None

    def matching(self, endpoint: str, phase: Phase, params: dict[str, Any]) -> Gate | None:
        with self._lock:
            gates = list(self._gates.values())
        for gate in gates:
            if gate.phase == phase and gate.matches(endpoint, params):
                return gate
        return None

    def remove(self, name: str) -> None:
        with self._lock:
            gate = self._gates.pop(name, None)
        if gate:
            gate.open()

    def clear(self) -> None:
        with self._lock:
            gates, self._gates = list(self._gates.values()), {}
        for gate in gates:
            gate.open()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [g.describe() for g in self._gates.values()]
