"""The `TokenStore` contract, run against every backend (memory, sqlite, redis)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import warnings
from dataclasses import replace

import pytest

from client_under_test.stores import LockTimeout, PendingFlow, TokenRecord, TokenStore

from .conftest import ManualClock, StoreFactory

pytestmark = pytest.mark.anyio

KEY = "tenant|user|https://mcp.example/mcp"
ISS = "https://as.example"
URIS = ["http://127.0.0.1:33418/callback", "http://localhost:33418/callback"]


def tokens(n: int = 0, **kw: object) -> TokenRecord:
    return TokenRecord(
        access_token=f"at-{n}", refresh_token=f"rt-{n}", expires_at=1_700_000_300.5, scope="read",
        issuer=ISS, client_id="c1", token_endpoint=f"{ISS}/token", resource="https://mcp.example/mcp",
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def flow(clock: ManualClock, state: str, flow_key: str = "fk", ttl: float = 600.0) -> PendingFlow:
    return PendingFlow(
        state=state, flow_key=flow_key, verifier=f"v-{state}", client_id="c1", redirect_uri=URIS[0],
        issuer=ISS, resource="https://mcp.example/mcp", authorization_url=f"{ISS}/authorize?state={state}",
        created_at=clock(), expires_at=clock() + ttl, scope="read", extra={"tab": state},
    )  # fmt: skip


def test_records_round_trip_through_json() -> None:
    rec = tokens(1, extra={"id_token": "x", "n": [1, 2]})
    assert TokenRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    f = flow(ManualClock(), "s1")
    assert PendingFlow.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    assert TokenRecord.from_dict({"access_token": "a", "unknown_future_field": 1}) == TokenRecord("a")


async def test_backend_satisfies_protocol(store: TokenStore) -> None:
    assert isinstance(store, TokenStore)


async def test_wait_changed_ends_by_its_timeout(store: TokenStore) -> None:
    """Every backend's change wait is bounded by its timeout (sqlite and redis simply sleep it out)."""
    await asyncio.wait_for(store.wait_changed(0.01), 5.0)


# tokens


async def test_cas_insert_update_delete(store: TokenStore) -> None:
    assert await store.get_tokens(KEY) is None
    first = tokens(0, extra={"k": "v"})
    assert await store.cas_tokens(KEY, None, first)
    assert first.version == 1
    got = await store.get_tokens(KEY)
    assert got == first and got.version == 1
    assert not await store.cas_tokens(KEY, None, tokens(9)), "insert-if-absent over a present record"
    assert not await store.cas_tokens(KEY, 0, tokens(9)), "stale version"
    assert not await store.cas_tokens(KEY, 2, tokens(9)), "future version"
    assert (await store.get_tokens(KEY)).access_token == "at-0"
    second = tokens(1, version=77)  # the version passed in is ignored: the store's is authoritative
    assert await store.cas_tokens(KEY, 1, second)
    assert (await store.get_tokens(KEY)).version == second.version == 2
    assert not await store.cas_tokens(KEY, 1, None), "stale delete"
    assert await store.cas_tokens(KEY, 2, None)
    assert await store.get_tokens(KEY) is None
    assert await store.cas_tokens(KEY, None, None), "deleting what is absent is a no-op success"
    assert not await store.cas_tokens(KEY, 2, tokens(3)), "a version from before the delete must not match"
    third = tokens(3)
    assert await store.cas_tokens(KEY, None, third)
    assert third.version == 4, "versions stay monotonic across a delete (no ABA)"
    assert await store.get_tokens("other-key") is None


async def test_returned_records_are_copies(store: TokenStore) -> None:
    rec = tokens(0, extra={"a": 1})
    await store.cas_tokens(KEY, None, rec)
    rec.extra["a"] = 2
    got = await store.get_tokens(KEY)
    got.access_token = "mutated"
    got.extra["a"] = 3
    assert await store.get_tokens(KEY) == replace(tokens(0, extra={"a": 1}), version=1)


async def test_concurrent_cas_has_exactly_one_winner(stores: StoreFactory) -> None:
    replicas = [stores() for _ in range(4)]
    assert await replicas[0].cas_tokens(KEY, None, tokens(0))
    seen = await asyncio.gather(*(replicas[i % 4].get_tokens(KEY) for i in range(16)))
    assert {r.version for r in seen} == {1}
    results = await asyncio.gather(
        *(replicas[i % 4].cas_tokens(KEY, r.version, tokens(i + 1)) for i, r in enumerate(seen))
    )
    assert results.count(True) == 1
    winner = results.index(True) + 1
    assert await replicas[1].get_tokens(KEY) == replace(tokens(winner), version=2)


async def test_concurrent_insert_if_absent_has_exactly_one_winner(stores: StoreFactory) -> None:
    replicas = [stores() for _ in range(4)]
    results = await asyncio.gather(*(replicas[i % 4].cas_tokens(KEY, None, tokens(i)) for i in range(16)))
    assert results.count(True) == 1
    assert (await replicas[2].get_tokens(KEY)).access_token == f"at-{results.index(True)}"


# registrations


async def test_registration_put_get_delete(store: TokenStore) -> None:
    assert await store.get_registration(ISS, URIS) is None
    reg = {"client_id": "A", "client_secret": None, "redirect_uris": URIS}
    assert await store.put_registration(ISS, URIS, reg) == reg
    assert await store.get_registration(ISS, list(reversed(URIS))) == reg, "redirect_uris order-insensitive"
    assert await store.get_registration(ISS, URIS[:1]) is None
    assert await store.get_registration("https://other.example", URIS) is None
    assert await store.put_registration(ISS, URIS, {"client_id": "B"}) == reg, "if_absent keeps the existing"
    assert not await store.delete_registration(ISS, URIS, "B"), "only deletes the client it names"
    assert await store.get_registration(ISS, URIS) == reg
    assert await store.put_registration(ISS, URIS, {"client_id": "C"}, if_absent=False) == {"client_id": "C"}
    assert not await store.delete_registration(ISS, URIS, "A"), (
        "a stale client_id must not delete the new one"
    )
    assert await store.delete_registration(ISS, URIS, "C")
    assert await store.get_registration(ISS, URIS) is None
    assert not await store.delete_registration(ISS, URIS, "C")


async def test_concurrent_registration_put_if_absent_agrees_on_one(stores: StoreFactory) -> None:
    replicas = [stores() for _ in range(4)]
    stored = await asyncio.gather(
        *(replicas[i % 4].put_registration(ISS, URIS, {"client_id": f"c{i}"}) for i in range(16))
    )
    assert len({s["client_id"] for s in stored}) == 1, stored
    assert await replicas[3].get_registration(ISS, URIS) == stored[0]


# flows


async def test_claim_flow_is_single_flight(stores: StoreFactory, clock: ManualClock) -> None:
    replicas = [stores() for _ in range(4)]
    flows = [flow(clock, f"s{i}") for i in range(12)]
    winners = await asyncio.gather(*(replicas[i % 4].claim_flow(f) for i, f in enumerate(flows)))
    assert all(w == winners[0] for w in winners)
    assert winners[0] in flows
    for f in flows:
        assert (await replicas[0].get_flow(f.state) is not None) == (f == winners[0])
    assert await replicas[1].pending_flow("fk") == winners[0]
    other = flow(clock, "t1", flow_key="other-user")
    assert await replicas[2].claim_flow(other) == other, "another flow_key is independent"
    assert await replicas[2].claim_flow(other) == other, "re-claiming a live flow returns it"


async def test_take_flow_exactly_once(stores: StoreFactory, clock: ManualClock) -> None:
    replicas = [stores() for _ in range(4)]
    f = flow(clock, "s1")
    assert await replicas[0].claim_flow(f) == f
    taken = await asyncio.gather(*(replicas[i % 4].take_flow("s1") for i in range(16)))
    assert [t for t in taken if t is not None] == [f]
    assert await replicas[1].take_flow("s1") is None
    assert await replicas[1].take_flow("unknown-state") is None
    assert await replicas[2].get_flow("s1") == f, "a taken flow stays live until finished"
    assert await replicas[2].claim_flow(flow(clock, "s2")) == f, "and keeps holding its flow_key"


async def test_finish_flow_records_outcome_and_releases_key(store: TokenStore, clock: ManualClock) -> None:
    f = flow(clock, "s1")
    await store.claim_flow(f)
    assert await store.flow_outcome("s1") is None
    assert await store.take_flow("s1") == f
    await store.finish_flow("s1", {"ok": True, "client_id": "c1"})
    assert await store.flow_outcome("s1") == {"ok": True, "client_id": "c1"}
    assert await store.get_flow("s1") is None
    assert await store.take_flow("s1") is None
    assert await store.pending_flow("fk") is None
    g = flow(clock, "s2")
    assert await store.claim_flow(g) == g
    assert await store.pending_flow("fk") == g
    await store.finish_flow("s1", {"ok": False})  # a late duplicate finish must not release s2's key
    assert await store.pending_flow("fk") == g
    await store.finish_flow("never-claimed", {"error": "access_denied"})
    assert await store.flow_outcome("never-claimed") == {"error": "access_denied"}


async def test_finish_untaken_flow(store: TokenStore, clock: ManualClock) -> None:
    await store.claim_flow(flow(clock, "s1"))
    await store.finish_flow("s1", {"error": "access_denied"})
    assert await store.take_flow("s1") is None
    assert await store.pending_flow("fk") is None


async def test_flow_ttl_follows_injected_clock(stores: StoreFactory, clock: ManualClock) -> None:
    a, b = stores(), stores()
    f = flow(clock, "s1", ttl=600)
    await a.claim_flow(f)
    clock.advance(599.9)
    assert await b.get_flow("s1") == f
    assert await b.pending_flow("fk") == f
    assert await b.claim_flow(flow(clock, "s2")) == f
    clock.advance(0.1)  # now == expires_at: expired
    assert await b.get_flow("s1") is None
    assert await b.pending_flow("fk") is None
    assert await b.take_flow("s1") is None
    g = flow(clock, "s3")
    assert await b.claim_flow(g) == g, "an expired flow no longer holds its flow_key"
    assert await a.pending_flow("fk") == g


async def test_taken_flow_expires_too(store: TokenStore, clock: ManualClock) -> None:
    await store.claim_flow(flow(clock, "s1", ttl=10))
    assert await store.take_flow("s1") is not None
    clock.advance(10)
    g = flow(clock, "s2")
    assert await store.claim_flow(g) == g


# locks


async def test_lock_mutual_exclusion(stores: StoreFactory) -> None:
    replicas = [stores() for _ in range(4)]
    inside, peak, counter = 0, 0, 0

    async def worker(i: int) -> None:
        nonlocal inside, peak, counter
        async with replicas[i % 4].lock("refresh:k", lease_s=10, wait_s=30):
            inside += 1
            peak = max(peak, inside)
            seen = counter
            await asyncio.sleep(0)  # yield inside the critical section
            await asyncio.sleep(0.001)
            counter = seen + 1
            inside -= 1

    await asyncio.gather(*(worker(i) for i in range(12)))
    assert (peak, counter) == (1, 12)


async def test_lock_timeout_and_independent_names(stores: StoreFactory) -> None:
    a, b = stores(), stores()
    async with a.lock("n1", lease_s=10) as lease:
        assert lease.name == "n1" and lease.owner and not lease.lost
        with pytest.raises(LockTimeout):
            async with b.lock("n1", wait_s=0.05):
                pass
        with pytest.raises(LockTimeout):
            async with b.lock("n1", wait_s=0):
                pass
        async with b.lock("n2", wait_s=0):
            pass
    async with b.lock("n1", wait_s=0):  # released on exit
        pass


async def test_lock_released_on_exception(store: TokenStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.lock("n", lease_s=10):
            raise RuntimeError("boom")
    async with store.lock("n", wait_s=0):
        pass


async def test_cancelled_holder_releases(stores: StoreFactory) -> None:
    a, b = stores(), stores()
    holding = asyncio.Event()

    async def holder() -> None:
        async with a.lock("n", lease_s=10):
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(holder())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with b.lock("n", wait_s=0):
        pass


async def test_expired_lease_is_taken_over_and_stale_release_is_harmless(stores: StoreFactory) -> None:
    a, b, c = stores(), stores(), stores()
    a_holds, taken_over, stale_released = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def stalled_owner() -> None:
        async with a.lock("n", lease_s=0.15, renew=False):  # renew=False: an owner that stopped renewing
            a_holds.set()
            await taken_over.wait()
        stale_released.set()  # its release ran after its lease had passed to b

    async def next_owner() -> None:
        await a_holds.wait()
        async with b.lock("n", lease_s=10, wait_s=10) as lease:
            taken_over.set()
            await stale_released.wait()
            with pytest.raises(LockTimeout):  # b still holds it: the stale release freed nothing
                async with c.lock("n", wait_s=0):
                    pass
            assert not lease.lost

    await asyncio.gather(stalled_owner(), next_owner())
    async with c.lock("n", wait_s=0):
        pass


class LoopLag:
    """Measures the longest stall of the event loop (a starved loop cannot renew anything)."""

    def __init__(self) -> None:
        self.max = 0.0
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.005)
            self.max = max(self.max, loop.time() - t - 0.005)

    async def stop(self) -> float:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.max


async def test_lease_is_renewed_while_held(stores: StoreFactory) -> None:
    a, b = stores(), stores()
    lease_s = 0.5
    stalls = []
    slowest_renewal = [0.0]
    inner = a._lock_renew  # type: ignore[attr-defined]

    async def timed_renew(name: str, owner: str, lease_s: float) -> bool:
        start = time.monotonic()
        try:
            return await inner(name, owner, lease_s)
        finally:
            slowest_renewal[0] = max(slowest_renewal[0], time.monotonic() - start)

    a._lock_renew = timed_renew  # type: ignore[attr-defined]
    for attempt in range(3):
        lag = LoopLag()
        slowest_renewal[0] = 0.0
        async with a.lock(f"n{attempt}", lease_s=lease_s) as lease:
            try:  # waits 2.4 leases: only renewal keeps a holding it
                async with b.lock(f"n{attempt}", lease_s=lease_s, wait_s=2.4 * lease_s):
                    taken = True
            except LockTimeout:
                taken = False
        stall = max(await lag.stop(), slowest_renewal[0])
        if not taken and not lease.lost:
            async with b.lock(f"n{attempt}", wait_s=0):  # released on exit
                return
        # The lease lapsed: a bug, unless the loop or a renewal round trip stalled (a loaded machine).
        assert stall > lease_s / 4, f"lease lapsed although nothing stalled ({stall:.3f}s, {taken=})"
        stalls.append(stall)
        warnings.warn(f"lease renewal starved ({stall:.3f}s), retrying", stacklevel=1)
    pytest.fail(f"event loop starved on every attempt, stalls {stalls}")


async def test_lock_rejects_bad_lease(store: TokenStore) -> None:
    with pytest.raises(ValueError):
        async with store.lock("n", lease_s=0):
            pass


async def test_renewal_reports_a_lost_lease(stores: StoreFactory) -> None:
    a, b = stores(), stores()
    async with a.lock("n", lease_s=0.15) as lease:
        # Simulate a lease that ran out while a stalled: it is freed and b takes it.
        assert await a._lock_release("n", lease.owner)  # type: ignore[attr-defined]
        async with b.lock("n", lease_s=10, wait_s=0) as other:
            for _ in range(400):  # the next renewal (every lease_s / 3) finds b's owner token
                if lease.lost:
                    break
                await asyncio.sleep(0.005)
            assert lease.lost and not other.lost
    async with b.lock("n", wait_s=0):
        pass
