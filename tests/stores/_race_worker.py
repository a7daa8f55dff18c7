"""The body of one replica process in the cross-process refresh race (see test_race_processes.py).

Module-level so the ``spawn`` start method can import it in a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from multiprocessing.synchronize import Barrier

import redis.asyncio as aioredis

from client_under_test.stores import TokenRecord, open_store


async def _log(log: str, line: str) -> None:
    """Record a redemption at the "AS": RPUSH for a redis log, an O_APPEND line for a file log."""
    if log.startswith("redis://"):
        url, _, key = log.partition("#")
        r = aioredis.Redis.from_url(url)
        try:
            await r.rpush(key, line)
        finally:
            await r.aclose()
    else:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


async def _refresh(
    spec: str, key: str, log: str, barrier: Barrier, idx: int, locked: bool, lease_s: float, hold_s: float
) -> tuple[str, str, str]:
    store = open_store(spec)
    renewals: list[tuple[float, float, bool]] = []
    t0 = time.monotonic()
    _trace_renewals(store, renewals, t0)
    try:
        stale = await store.get_tokens(key)  # what this replica holds when it sees expiry / a 401
        assert stale is not None
        barrier.wait()  # all replicas start the refresh together
        if not locked:  # the C09 bug: redeem what we hold, CAS only at the end
            await _log(log, f"{stale.refresh_token} {idx}")
            new = TokenRecord(
                access_token=f"at-new-{idx}", refresh_token=f"rt-new-{idx}", issuer=stale.issuer
            )
            return (
                "redeemed" if await store.cas_tokens(key, stale.version, new) else "cas-lost",
                f"at-new-{idx}",
                "",
            )
        tried_at = [0.0]
        _trace_attempts(store, tried_at, t0)
        async with store.lock(f"refresh:{key}", lease_s=lease_s, wait_s=60) as lease:
            acquired = tried_at[0]  # the start of the winning attempt: the lease began no earlier
            current = await store.get_tokens(key)  # re-read after taking the lock
            assert current is not None
            if current.refresh_token != stale.refresh_token:
                return ("adopted", current.access_token, "")
            await _log(log, f"{current.refresh_token} {idx}")  # the "redemption" at the AS
            await asyncio.sleep(hold_s)  # the token endpoint round trip; widens the window, orders nothing
            diag = f"held from {acquired:.3f}s to {time.monotonic() - t0:.3f}s, renewals (at/took/held) {renewals}"
            if _starved(acquired, renewals, time.monotonic() - t0, lease_s):
                diag = "STARVED: " + diag
            if lease.lost:
                return ("lease-lost", "", diag)
            new = TokenRecord(
                access_token=f"at-new-{idx}", refresh_token=f"rt-new-{idx}", issuer=current.issuer
            )
            ok = await store.cas_tokens(key, current.version, new)
            return ("redeemed" if ok else "cas-lost", new.access_token, diag)
    finally:
        await store.close()


def refresh_replica(
    spec: str, key: str, log: str, barrier: Barrier, results: object, idx: int, locked: bool,
    lease_s: float = 10.0, hold_s: float = 0.02,
) -> None:  # fmt: skip
    """Process entry point: run one replica's refresh and put ``(idx, outcome, access_token, diagnostics)``."""
    try:
        outcome, at, diag = asyncio.run(_refresh(spec, key, log, barrier, idx, locked, lease_s, hold_s))
    except BaseException as exc:  # report, so the parent fails with the cause instead of a hang
        barrier.abort()
        results.put((idx, f"error: {exc!r}", "", ""))  # type: ignore[attr-defined]
        raise
    results.put((idx, outcome, at, diag))  # type: ignore[attr-defined]


def _trace_attempts(store: object, out: list[float], t0: float) -> None:
    """Keep the start time of the latest lock attempt in ``out[0]``."""
    inner = store._lock_try  # type: ignore[attr-defined]

    async def traced(name: str, owner: str, lease_s: float) -> bool:
        out[0] = time.monotonic() - t0
        return await inner(name, owner, lease_s)

    store._lock_try = traced  # type: ignore[attr-defined]


def _trace_renewals(store: object, out: list[tuple[float, float, bool]], t0: float) -> None:
    """Record when each lease renewal ran, how long it took and whether it still held the lock."""
    inner = store._lock_renew  # type: ignore[attr-defined]

    async def traced(name: str, owner: str, lease_s: float) -> bool:
        start = time.monotonic()
        held = await inner(name, owner, lease_s)
        out.append((round(start - t0, 3), round(time.monotonic() - start, 3), held))
        return held

    store._lock_renew = traced  # type: ignore[attr-defined]


async def _take(spec: str, state: str, barrier: Barrier) -> str:
    store = open_store(spec)
    try:
        barrier.wait()
        flow = await store.take_flow(state)
        return "none" if flow is None else f"took {flow.verifier}"
    finally:
        await store.close()


def take_replica(spec: str, state: str, barrier: Barrier, results: object, idx: int) -> None:
    """Process entry point: every replica receives the same callback and tries to take its flow."""
    try:
        outcome = asyncio.run(_take(spec, state, barrier))
    except BaseException as exc:
        barrier.abort()
        results.put((idx, f"error: {exc!r}", "", ""))  # type: ignore[attr-defined]
        raise
    results.put((idx, outcome, "", ""))  # type: ignore[attr-defined]


def _starved(acquired: float, renewals: list[tuple[float, float, bool]], end: float, lease_s: float) -> bool:
    """True if the holder may have gone (nearly) a whole lease unrenewed: a loaded machine, not a bug.

    Then the lease may rightly have passed to another replica, and the test retries instead of failing.
    A renewal extends the lease somewhere between its start and its end; a gap is measured from one
    extension's earliest to the next one's latest moment, up to the first renewal that found the lock
    lost, else to the end of the hold.
    """
    spans = [(acquired, acquired)]
    for at, took, held in renewals:
        if at >= acquired:
            spans.append((at, at + took))
            if not held:
                break
    else:
        spans.append((end, end))
    return any(b[1] - a[0] >= 0.9 * lease_s for a, b in itertools.pairwise(spans))
