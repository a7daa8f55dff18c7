"""Replicas as OS processes racing to refresh one token on a shared sqlite file or redis (C09, C10).

N processes start together behind a `multiprocessing.Barrier`. Each takes the store's lock, re-reads
the tokens, "redeems" the refresh token (appends to a shared log: a file or a redis list) and writes
the new tokens by CAS. Exactly one redemption of the refresh token may happen; the others adopt the
winner's tokens. The unlocked variant is the negative control: it must show every replica redeeming.
Run them many times with ``pytest tests/stores -m race --count 50``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from client_under_test.stores import PendingFlow, TokenRecord, open_store
from client_under_test.stores.redis_server import RedisServer

from ._race_worker import refresh_replica, take_replica
from .conftest import unique_prefix

pytestmark = pytest.mark.race

REPLICAS = 4
KEY = "tenant|user|https://mcp.example/mcp"


def _spec_and_log(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        return f"sqlite:{tmp_path / 'store.sqlite3'}", str(tmp_path / "redemptions.log")
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = unique_prefix()
    return f"{server.url}?prefix={prefix}", f"{server.url}#{prefix}redemptions"


def _read_log(log: str) -> list[str]:
    if log.startswith("redis://"):
        url, _, key = log.partition("#")
        with redis.Redis.from_url(url, decode_responses=True) as r:
            return list(r.lrange(key, 0, -1))
    path = Path(log)
    return path.read_text().splitlines() if path.exists() else []


def _context() -> mp.context.BaseContext:
    """A fresh interpreter per replica (no inherited event loop, threads or connections).

    ``forkserver`` with the worker module preloaded starts a replica in milliseconds; ``spawn`` where
    there is no forkserver.
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([refresh_replica.__module__])
    return ctx


def _run_replicas(target: Callable[..., None], *args: object) -> list[tuple[int, str, str, str]]:
    """Run ``target(*args[:k], barrier, results, idx, *args[k:])`` in REPLICAS spawned processes."""
    ctx = _context()
    barrier = ctx.Barrier(REPLICAS, timeout=60)
    results = ctx.Queue()
    head, tail = args[: args.index(...)], args[args.index(...) + 1 :]
    procs = [
        ctx.Process(target=target, args=(*head, barrier, results, i, *tail), daemon=True)
        for i in range(REPLICAS)
    ]
    for p in procs:
        p.start()
    out = []
    try:
        for _ in procs:
            out.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"replicas did not report: {out}")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
    assert all(p.exitcode == 0 for p in procs), [(p.exitcode, out) for p in procs]
    return sorted(out)


async def _seed(spec: str) -> None:
    store = open_store(spec)
    try:
        assert await store.cas_tokens(KEY, None, TokenRecord("at-0", "rt-0", issuer="https://as.example"))
    finally:
        await store.close()


async def _read(spec: str) -> TokenRecord | None:
    store = open_store(spec)
    try:
        return await store.get_tokens(KEY)
    finally:
        await store.close()


BACKENDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("lease_s", "hold_s"),
    [(10.0, 0.02), (0.5, 1.0)],
    ids=["fast-refresh", "refresh-outlives-lease"],  # the second needs lease renewal (C11)
)
def test_processes_redeem_the_refresh_token_exactly_once(
    backend: str, lease_s: float, hold_s: float, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    starved = []
    for attempt in range(3):  # retried only when a replica was starved of CPU longer than its lease
        spec, log = _spec_and_log(backend, request, tmp_path / str(attempt))
        asyncio.run(_seed(spec))
        results = _run_replicas(refresh_replica, spec, KEY, log, ..., True, lease_s, hold_s)
        redemptions = _read_log(log)
        outcomes = sorted(r[1] for r in results)
        if outcomes == ["adopted"] * (REPLICAS - 1) + ["redeemed"] and len(redemptions) == 1:
            break
        failure = f"redemptions {redemptions}; replicas {results}"
        assert any(r[3].startswith("STARVED") for r in results), failure
        starved.append(failure)
        warnings.warn(f"replica starved of CPU, retrying: {failure}", stacklevel=1)
    else:
        pytest.fail(f"replicas starved of CPU on every attempt: {starved}")
    assert redemptions == [f"rt-0 {next(r[0] for r in results if r[1] == 'redeemed')}"]
    winner_at = {r[2] for r in results}
    assert len(winner_at) == 1, f"every replica ends on the winner's tokens: {results}"
    final = asyncio.run(_read(spec))
    assert final is not None and final.version == 2 and {final.access_token} == winner_at


@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_control_without_lock_double_redeems(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Without the lock CAS still keeps one writer, but every replica redeemed rt-0: the log sees it."""
    spec, log = _spec_and_log(backend, request, tmp_path)
    asyncio.run(_seed(spec))
    results = _run_replicas(refresh_replica, spec, KEY, log, ..., False)

    assert sorted(line.split()[0] for line in _read_log(log)) == ["rt-0"] * REPLICAS
    assert sorted(r[1] for r in results) == ["cas-lost"] * (REPLICAS - 1) + ["redeemed"], results
    final = asyncio.run(_read(spec))
    assert final is not None and final.version == 2


async def _claim(spec: str) -> None:
    store = open_store(spec)
    try:
        flow = PendingFlow(
            state="s1", flow_key="fk", verifier="v1", client_id="c1", redirect_uri="http://127.0.0.1/cb",
            issuer="https://as.example", authorization_url="https://as.example/authorize?state=s1",
            created_at=time.time(), expires_at=time.time() + 600,
        )  # fmt: skip
        assert await store.claim_flow(flow) == flow
    finally:
        await store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_take_a_flow_exactly_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The same callback delivered to every replica: exactly one process gets the flow (C05)."""
    spec, _ = _spec_and_log(backend, request, tmp_path)
    asyncio.run(_claim(spec))
    results = _run_replicas(take_replica, spec, "s1", ...)
    assert sorted(r[1] for r in results) == ["none"] * (REPLICAS - 1) + ["took v1"], results
