"""Client-side stores: one async `TokenStore` protocol, three backends, and `open_store(spec)`.

Specs: ``memory``; ``sqlite`` (the default file, see `default_sqlite_path`); ``sqlite:PATH``;
``redis://host:port/db`` or ``rediss://...``, with an optional ``?prefix=P`` for the key prefix.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Clock, Lease, LockTimeout, PendingFlow, TokenRecord, TokenStore
from .memory import MemoryStore
from .redis_store import DEFAULT_PREFIX, RedisStore
from .sqlite import SqliteStore, default_sqlite_path

__all__ = [
    "Lease",
    "LockTimeout",
    "MemoryStore",
    "PendingFlow",
    "RedisStore",
    "SqliteStore",
    "TokenRecord",
    "TokenStore",
    "default_sqlite_path",
    "open_store",
]

SPEC_FORMS = "'memory', 'sqlite', 'sqlite:PATH' or 'redis://host:port/db[?prefix=P]'"


def open_store(spec: str, *, now: Clock = time.time) -> TokenStore:
    """Open a store from a spec string; ``now`` is the clock for flow TTLs. ValueError on a bad spec."""
    if spec == "memory":
        return MemoryStore(now=now)
    if spec == "sqlite":
        return SqliteStore(default_sqlite_path(), now=now)
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        return SqliteStore(spec[len("sqlite:") :], now=now)
    if spec.startswith(("redis://", "rediss://")):
        parts = urlsplit(spec)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
        rest = urlencode([(k, v) for k, v in query if k != "prefix"])
        return RedisStore(urlunsplit(parts._replace(query=rest)), prefix, now=now)
    raise ValueError(f"unknown store spec {spec!r}: use {SPEC_FORMS}")
