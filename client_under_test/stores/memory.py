"""`MemoryStore`: in-process state, safe for asyncio tasks and threads (not across processes)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from .base import (
    OUTCOME_RETENTION_S,
    Clock,
    LeaseLocks,
    PendingFlow,
    TokenRecord,
    dumps,
    registration_key,
)


class _Flow:
    __slots__ = ("data", "flow_key", "expires_at", "taken", "finished")

    def __init__(self, data: str, flow_key: str, expires_at: float) -> None:
        self.data = data
        self.flow_key = flow_key
        self.expires_at = expires_at
        self.taken = False
        self.finished = False


class MemoryStore(LeaseLocks):
    """Every operation runs without awaiting inside a `threading.Lock`, so each one is atomic.

    Values are kept as JSON text, like the other backends: callers get copies, and a value that
    would not survive sqlite or redis fails here too. Every write wakes the tasks parked in
    :meth:`wait_changed` (lock and flow waiters), so nothing here waits out a poll interval.
    """

    def __init__(self, *, now: Clock = time.time, lock_poll_s: float | None = None) -> None:
        """``lock_poll_s``: how often lock waiters re-try besides being woken by writes (default: like the
        other backends). The race machines set it long, so that no real-time poll reorders waiters."""
        self._now = now
        if lock_poll_s is not None:
            self.lock_poll_s = lock_poll_s
        self._mu = threading.Lock()
        self._tokens: dict[str, tuple[int, str | None]] = {}  # None data: tombstone
        self._regs: dict[str, str] = {}
        self._flows: dict[str, _Flow] = {}
        self._flow_keys: dict[str, str] = {}  # flow_key -> state
        self._outcomes: dict[str, tuple[float, str]] = {}
        self._locks: dict[str, tuple[str, float]] = {}  # name -> (owner, monotonic expiry)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # change notification
    def wait_changed(self, timeout: float) -> Awaitable[None]:
        """Registers the waiter NOW (at the call, not at the first await), so a write between a caller's
        last read and its await still wakes it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._mu:
            self._waiters.append((loop, fut))
        return self._wait(loop, fut, timeout)

    async def _wait(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None], timeout: float) -> None:
        try:
            await asyncio.wait({fut}, timeout=timeout)
        finally:
            with self._mu:
                if (loop, fut) in self._waiters:
                    self._waiters.remove((loop, fut))

    def notify_changed(self) -> None:
        """Wake every waiter (called after each write; also usable after a manual-clock advance)."""
        with self._mu:
            waiters, self._waiters = self._waiters, []
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, fut in waiters:
            if loop is running:
                _wake(fut)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_wake, fut)

    # tokens
    async def get_tokens(self, key: str) -> TokenRecord | None:
        with self._mu:
            version, data = self._tokens.get(key, (0, None))
        return None if data is None else TokenRecord.from_dict({**json.loads(data), "version": version})

    async def cas_tokens(self, key: str, expected_version: int | None, new: TokenRecord | None) -> bool:
        payload = None if new is None else dumps(new.to_dict())
        with self._mu:
            version, data = self._tokens.get(key, (0, None))
            if (expected_version is None) != (data is None):
                return False
            if expected_version is not None and version != expected_version:
                return False
            if data is None and payload is None:
                return True  # deleting what is absent
            self._tokens[key] = (version + 1, payload)
        if new is not None:
            new.version = version + 1
        self.notify_changed()
        return True

    # registrations
    async def get_registration(self, issuer: str, redirect_uris: Sequence[str]) -> dict[str, Any] | None:
        with self._mu:
            reg = self._regs.get(registration_key(issuer, redirect_uris))
        return None if reg is None else json.loads(reg)

    async def put_registration(
        self, issuer: str, redirect_uris: Sequence[str], reg: dict[str, Any], *, if_absent: bool = True
    ) -> dict[str, Any]:
        k = registration_key(issuer, redirect_uris)
        with self._mu:
            if if_absent and k in self._regs:
                return json.loads(self._regs[k])
            self._regs[k] = dumps(reg)
        self.notify_changed()
        return json.loads(self._regs[k])

    async def delete_registration(self, issuer: str, redirect_uris: Sequence[str], client_id: str) -> bool:
        k = registration_key(issuer, redirect_uris)
        with self._mu:
            reg = self._regs.get(k)
            if reg is None or json.loads(reg).get("client_id") != client_id:
                return False
            del self._regs[k]
        self.notify_changed()
        return True

    # flows
    @staticmethod
    def _live(f: _Flow | None, now: float) -> PendingFlow | None:
        if f is None or f.finished or f.expires_at <= now:
            return None
        return PendingFlow.from_dict(json.loads(f.data))

    async def claim_flow(self, flow: PendingFlow) -> PendingFlow:
        now = self._now()
        with self._mu:
            self._gc(now)
            holder = self._flow_keys.get(flow.flow_key)
            winner = None if holder is None else self._live(self._flows.get(holder), now)
            winner = winner or self._live(self._flows.get(flow.state), now)
            if winner is not None:
                return winner
            self._flows[flow.state] = _Flow(dumps(flow.to_dict()), flow.flow_key, flow.expires_at)
            self._flow_keys[flow.flow_key] = flow.state
        self.notify_changed()
        return flow

    async def get_flow(self, state: str) -> PendingFlow | None:
        now = self._now()
        with self._mu:
            return self._live(self._flows.get(state), now)

    async def take_flow(self, state: str) -> PendingFlow | None:
        now = self._now()
        with self._mu:
            f = self._flows.get(state)
            live = self._live(f, now)
            if f is None or live is None or f.taken:
                return None
            f.taken = True
        self.notify_changed()
        return live

    async def finish_flow(self, state: str, outcome: dict[str, Any]) -> None:
        now = self._now()
        with self._mu:
            self._outcomes[state] = (now, dumps(outcome))
            f = self._flows.get(state)
            if f is not None:
                f.finished = True
                if self._flow_keys.get(f.flow_key) == state:
                    del self._flow_keys[f.flow_key]
        self.notify_changed()

    async def flow_outcome(self, state: str) -> dict[str, Any] | None:
        with self._mu:
            got = self._outcomes.get(state)
        return None if got is None else json.loads(got[1])

    async def pending_flow(self, flow_key: str) -> PendingFlow | None:
        now = self._now()
        with self._mu:
            holder = self._flow_keys.get(flow_key)
            return None if holder is None else self._live(self._flows.get(holder), now)

    def _gc(self, now: float) -> None:
        horizon = now - OUTCOME_RETENTION_S
        for state in [s for s, f in self._flows.items() if f.expires_at < horizon]:
            f = self._flows.pop(state)
            if self._flow_keys.get(f.flow_key) == state:
                del self._flow_keys[f.flow_key]
        for state in [s for s, (t, _) in self._outcomes.items() if t < horizon]:
            del self._outcomes[state]

    # locks (LeaseLocks primitives; leases on the monotonic clock)
    async def _lock_try(self, name: str, owner: str, lease_s: float) -> bool:
        t = time.monotonic()
        with self._mu:
            cur = self._locks.get(name)
            if cur is not None and cur[1] > t:
                return False
            self._locks[name] = (owner, t + lease_s)
        self.notify_changed()
        return True

    async def _lock_renew(self, name: str, owner: str, lease_s: float) -> bool:
        t = time.monotonic()
        with self._mu:
            cur = self._locks.get(name)
            if cur is None or cur[0] != owner or cur[1] <= t:
                return False
            self._locks[name] = (owner, t + lease_s)
            return True

    async def _lock_release(self, name: str, owner: str) -> bool:
        with self._mu:
            cur = self._locks.get(name)
            if cur is None or cur[0] != owner:
                return False
            del self._locks[name]
        self.notify_changed()
        return True

    async def break_locks(self) -> int:
        """Harness only: drop every lock, as a lost lease or a store failover would (C10)."""
        with self._mu:
            n, self._locks = len(self._locks), {}
        self.notify_changed()
        return n

    def held_locks(self) -> int:
        """Harness only: how many locks are held now (leases not yet run out)."""
        t = time.monotonic()
        with self._mu:
            return sum(1 for _, until in self._locks.values() if until > t)

    async def close(self) -> None:
        return None


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
