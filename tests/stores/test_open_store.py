"""`open_store(spec)` parsing, and the redis-server launcher."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from client_under_test.stores import MemoryStore, RedisStore, SqliteStore, open_store
from client_under_test.stores.redis_server import RedisServer


def test_memory() -> None:
    assert isinstance(open_store("memory"), MemoryStore)


def test_sqlite_path_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"sqlite:{tmp_path / 'a' / 'x.db'}")
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "a" / "x.db" and store.path.exists()
    asyncio.run(store.close())
    monkeypatch.setenv("MCP_OAUTH_STORE_PATH", str(tmp_path / "default.db"))
    store = open_store("sqlite")
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "default.db"
    asyncio.run(store.close())


def test_redis_url_and_prefix() -> None:
    store = open_store("redis://127.0.0.1:1/3?prefix=team-a:&socket_timeout=5")  # connects lazily
    assert isinstance(store, RedisStore)
    assert store.prefix == "team-a:" and store.url == "redis://127.0.0.1:1/3?socket_timeout=5"
    assert open_store("redis://127.0.0.1:1/0").prefix == "mcp-oauth:"  # type: ignore[attr-defined]
    assert isinstance(open_store("rediss://127.0.0.1:1/0"), RedisStore)


@pytest.mark.parametrize("spec", ["", "sqlite:", "Memory", "postgres://x/y", "file:/tmp/x", "redis:/x"])
def test_unknown_spec_names_the_valid_forms(spec: str) -> None:
    with pytest.raises(ValueError) as err:
        open_store(spec)
    msg = str(err.value)
    assert "\n" not in msg and repr(spec) in msg
    for form in ("'memory'", "'sqlite'", "'sqlite:PATH'", "redis://host:port/db"):
        assert form in msg


@pytest.mark.redis
def test_redis_server_fixture_answers(redis_server: RedisServer) -> None:
    import redis

    with redis.Redis.from_url(redis_server.url) as r:
        assert r.ping()
        assert r.config_get("save")["save"] == "" and r.config_get("appendonly")["appendonly"] == "no"
