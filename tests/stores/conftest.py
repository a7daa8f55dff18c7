"""Fixtures for the store contract tests: a per-worker redis-server, a manual clock, store factories.

Reusable elsewhere: ``from tests.stores.conftest import redis_server`` (or the launcher itself,
`client_under_test.stores.redis_server.run_redis_server`). Under pytest-xdist each worker is its own
session, so it starts its own server; every test also gets its own key prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from client_under_test.stores import TokenStore, open_store
from client_under_test.stores.redis_server import RedisServer, RedisServerUnavailable, run_redis_server

BACKENDS = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


class ManualClock:
    """A clock a test advances by hand; pass it as the store's ``now``."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for this session (this xdist worker); skipped, never faked, when missing."""
    try:
        with run_redis_server() as server:
            yield server
    except RedisServerUnavailable as exc:
        pytest.skip(str(exc))


def unique_prefix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"test:{worker}:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def store_spec(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A spec for a fresh, empty store of ``backend`` (redis: the session server, a new prefix)."""
    if backend == "memory":
        return "memory"
    if backend == "sqlite":
        return f"sqlite:{tmp_path / 'store.sqlite3'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix={unique_prefix()}"


class StoreFactory:
    """Opens store instances on one backing (one sqlite file, one redis prefix) like separate replicas.

    Memory has no shared backing, so every call returns the same instance.
    """

    def __init__(self, spec: str, clock: ManualClock) -> None:
        self.spec = spec
        self.clock = clock
        self.opened: list[TokenStore] = []

    def __call__(self) -> TokenStore:
        if self.spec == "memory" and self.opened:
            return self.opened[0]
        store = open_store(self.spec, now=self.clock)
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def stores(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[StoreFactory]:
    factory = StoreFactory(store_spec(backend, request, tmp_path), clock)
    yield factory
    await factory.close_all()


@pytest.fixture
def store(stores: StoreFactory) -> TokenStore:
    return stores()
