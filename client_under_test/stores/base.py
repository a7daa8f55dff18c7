"""The `TokenStore` protocol, its records, and helpers shared by the backends.

A store holds four things for the reference client:

- **tokens**, keyed by a string the client builds (``tenant|user|server``), written only by
  compare-and-swap on an integer version (C10, C12);
- **registrations**, keyed by ``(issuer, sorted redirect_uris)``, put-if-absent (C01);
- **pending interactive flows**, keyed by ``state``, single-flight per ``flow_key``, with a TTL on the
  injected clock (C02, C05);
- **locks** with an owner token and a renewed lease (C09, C11).

Token versions are monotonic per key: a delete leaves a tombstone that keeps the version, so a record
written after a delete never reuses an old version (no ABA on ``expected_version``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

Clock = Callable[[], float]

#: How long a finished flow's outcome (and a dead flow's row) is kept, in clock seconds.
OUTCOME_RETENTION_S = 24 * 3600.0
#: Lock acquisition polling interval, seconds.
LOCK_POLL_S = 0.01


class LockTimeout(TimeoutError):
    """The lock was not acquired within ``wait_s``."""


def _fields_of(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class TokenRecord:
    """Tokens for one key. ``version`` is set by the store; the stored record's version is authoritative."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # absolute epoch seconds
    scope: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    token_endpoint: str | None = None
    resource: str | None = None
    version: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenRecord:
        return cls(**_fields_of(cls, data))


@dataclass
class PendingFlow:
    """An interactive authorization flow between ``/authorize`` and its callback.

    ``flow_key`` identifies who the flow is for (tenant|user|server): at most one live flow per key.
    A flow is *live* from ``claim_flow`` until ``finish_flow`` or ``expires_at`` (on the store's clock).
    """

    state: str
    flow_key: str
    verifier: str
    client_id: str
    redirect_uri: str
    issuer: str
    authorization_url: str
    created_at: float
    expires_at: float
    resource: str | None = None
    scope: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingFlow:
        return cls(**_fields_of(cls, data))


@dataclass
class Lease:
    """What ``lock()`` yields. ``lost`` turns True if a renewal found the lock taken by another owner."""

    name: str
    owner: str
    lease_s: float
    lost: bool = False


@runtime_checkable
class TokenStore(Protocol):
    """Shared client state: tokens (CAS), registrations, pending flows and locks. All methods are async."""

    async def get_tokens(self, key: str) -> TokenRecord | None:
        """The stored record (with its authoritative ``version``), or None."""
        ...

    async def cas_tokens(self, key: str, expected_version: int | None, new: TokenRecord | None) -> bool:
        """Write ``new`` (None: delete) only if the stored version is ``expected_version``.

        ``expected_version`` None means "only if absent". On success the stored version is bumped and
        ``new.version`` is set to it. Returns False, and writes nothing, when the stored state differs.
        """
        ...

    async def get_registration(self, issuer: str, redirect_uris: Sequence[str]) -> dict[str, Any] | None:
        """The registration stored for ``(issuer, redirect_uris)`` (order-insensitive), or None."""
        ...

    async def put_registration(
        self, issuer: str, redirect_uris: Sequence[str], reg: dict[str, Any], *, if_absent: bool = True
    ) -> dict[str, Any]:
        """Store ``reg``; with ``if_absent`` keep and return an existing one instead. Returns the stored one."""
        ...

    async def delete_registration(self, issuer: str, redirect_uris: Sequence[str], client_id: str) -> bool:
        """Delete the registration only if it still has ``client_id``. True if deleted."""
        ...

    async def claim_flow(self, flow: PendingFlow) -> PendingFlow:
        """Store ``flow`` unless ``flow.flow_key`` already has a live flow; return the winner."""
        ...

    async def get_flow(self, state: str) -> PendingFlow | None:
        """The live flow with this ``state`` (taken or not), or None."""
        ...

    async def take_flow(self, state: str) -> PendingFlow | None:
        """Atomically take a live, untaken flow: exactly one caller (across processes) gets it."""
        ...

    async def finish_flow(self, state: str, outcome: dict[str, Any]) -> None:
        """Record the flow's outcome and release its ``flow_key`` so a new flow can start."""
        ...

    async def flow_outcome(self, state: str) -> dict[str, Any] | None:
        """The outcome recorded by ``finish_flow``, or None."""
        ...

    async def pending_flow(self, flow_key: str) -> PendingFlow | None:
        """The live flow holding ``flow_key``, or None."""
        ...

    def lock(
        self, name: str, lease_s: float = 30.0, wait_s: float = 30.0, *, renew: bool = True
    ) -> AbstractAsyncContextManager[Lease]:
        """A mutual-exclusion lock with an owner token and a lease, renewed while held.

        Raises ``LockTimeout`` if not acquired within ``wait_s``. Release frees the lock only if
        this owner still holds it. ``renew=False`` is for tests that simulate a stalled owner.
        """
        ...

    def wait_changed(self, timeout: float) -> Awaitable[None]:
        """An awaitable that ends after ``timeout`` seconds, or earlier once this store's state may have
        changed since THIS CALL (not since the first await: call it right after the read it follows).

        A polling waiter (a lock, another replica's flow) calls this between two reads. sqlite and redis
        cannot see other processes' writes, so they just sleep; the in-process ``MemoryStore`` wakes its
        waiters on every write, which lets the race machines tell "waiting on a gate" from "about to run".
        """
        ...

    async def close(self) -> None:
        """Release connections and stop renewal tasks."""
        ...


def registration_key(issuer: str, redirect_uris: Sequence[str]) -> str:
    """Canonical key for a registration: issuer plus the sorted, de-duplicated redirect URIs."""
    if isinstance(redirect_uris, str):
        redirect_uris = [redirect_uris]
    return json.dumps([issuer, sorted(set(redirect_uris))], separators=(",", ":"))


def registration_digest(issuer: str, redirect_uris: Sequence[str]) -> str:
    """A short, fixed-length form of `registration_key` for key-value stores."""
    return hashlib.sha256(registration_key(issuer, redirect_uris).encode()).hexdigest()


def new_owner() -> str:
    """A random lock owner token."""
    return secrets.token_hex(16)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class LeaseLocks:
    """``lock()`` built on three backend primitives, each atomic and owner-checked.

    Leases run on real time (a lease guards against a dead or stalled process, and redis's ``PX`` is
    real time), not on the injected clock. While held, a task renews the lease every ``lease_s / 3``.
    """

    #: How often a lock waiter re-tries. Backends that wake waiters on every write (``MemoryStore``) may
    #: poll rarely: there the poll is only a safety net.
    lock_poll_s: float = LOCK_POLL_S

    def wait_changed(self, timeout: float) -> Awaitable[None]:
        """See ``TokenStore.wait_changed``: backends that cannot observe writes poll."""
        return asyncio.sleep(timeout)

    async def _lock_try(self, name: str, owner: str, lease_s: float) -> bool:
        """Take the lock if it is free or its lease has expired."""
        raise NotImplementedError

    async def _lock_renew(self, name: str, owner: str, lease_s: float) -> bool:
        """Extend the lease if ``owner`` still holds it."""
        raise NotImplementedError

    async def _lock_release(self, name: str, owner: str) -> bool:
        """Free the lock if ``owner`` still holds it (compare-and-delete)."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def lock(
        self, name: str, lease_s: float = 30.0, wait_s: float = 30.0, *, renew: bool = True
    ) -> AsyncIterator[Lease]:
        if lease_s <= 0:
            raise ValueError("lease_s must be > 0")
        lease = Lease(name=name, owner=new_owner(), lease_s=lease_s)
        await self._acquire(lease, wait_s)
        renewer = asyncio.create_task(self._renew_loop(lease)) if renew else None
        try:
            yield lease
        finally:
            if renewer is not None:
                renewer.cancel()  # a renewal still in flight is owner-checked, so harmless after release
            await asyncio.shield(self._lock_release(name, lease.owner))
            if renewer is not None:
                await asyncio.wait([renewer])  # (does not swallow a cancellation of this task)

    async def _acquire(self, lease: Lease, wait_s: float) -> None:
        deadline = time.monotonic() + max(wait_s, 0.0)
        while True:
            try:
                if await self._lock_try(lease.name, lease.owner, lease.lease_s):
                    return
            except asyncio.CancelledError:
                # The attempt may have succeeded server-side: free it (owner-checked, so harmless).
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._lock_release(lease.name, lease.owner))
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(f"lock {lease.name!r} not acquired within {wait_s}s")
            await self.wait_changed(min(self.lock_poll_s, remaining))

    async def _renew_loop(self, lease: Lease) -> None:
        interval = lease.lease_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                held = await self._lock_renew(lease.name, lease.owner, lease.lease_s)
            except Exception:  # a transient backend error: retry at the next tick, the lease still runs
                log.warning("renewing lock %r failed", lease.name, exc_info=True)
                continue
            if not held:
                lease.lost = True
                return
