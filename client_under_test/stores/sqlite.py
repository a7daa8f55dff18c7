"""`SqliteStore`: the embedded default, safe across OS processes sharing one file.

WAL journal, ``busy_timeout``, and every read-modify-write in a ``BEGIN IMMEDIATE`` transaction (it
takes the write lock up front, so two processes cannot both read the old version). Locks are rows
with an owner token and a wall-clock lease expiry, taken by one atomic upsert that only overwrites
an expired row. Calls are synchronous and short (no transaction spans an ``await``); a
`threading.Lock` serialises use of the one connection. Open a store after forking, not before.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS registrations (key TEXT PRIMARY KEY, client_id TEXT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flows (
    state TEXT PRIMARY KEY, flow_key TEXT NOT NULL, data TEXT NOT NULL, expires_at REAL NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS flow_keys (flow_key TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flow_outcomes (state TEXT PRIMARY KEY, finished_at REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL);
"""


def default_sqlite_path() -> Path:
    """``$MCP_OAUTH_STORE_PATH``, else ``$XDG_STATE_HOME/mcp-oauth-conformance/store.sqlite3``."""
    if env := os.environ.get("MCP_OAUTH_STORE_PATH"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mcp-oauth-conformance" / "store.sqlite3"


class SqliteStore(LeaseLocks):
    """One sqlite file shared by any number of processes and stores."""

    def __init__(self, path: str | os.PathLike[str], *, now: Clock = time.time, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self._now = now
        self._mu = threading.Lock()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self._init_schema()

    def _init_schema(self) -> None:
        for attempt in range(50):  # concurrent first opens may briefly see "database is locked"
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                with self._tx() as db:
                    for stmt in filter(str.strip, _SCHEMA.split(";")):
                        db.execute(stmt)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.02)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` takes the file's write lock before any read."""
        with self._mu:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any]) -> tuple[Any, ...] | None:
        with self._mu:
            return self._db.execute(sql, args).fetchone()

    # tokens
    async def get_tokens(self, key: str) -> TokenRecord | None:
        row = self._one("SELECT version, data FROM tokens WHERE key = ?", (key,))
        if row is None or row[1] is None:
            return None
        return TokenRecord.from_dict({**json.loads(row[1]), "version": row[0]})

    async def cas_tokens(self, key: str, expected_version: int | None, new: TokenRecord | None) -> bool:
        payload = None if new is None else dumps(new.to_dict())
        with self._tx() as db:
            row = db.execute("SELECT version, data FROM tokens WHERE key = ?", (key,)).fetchone()
            version, present = (0, False) if row is None else (row[0], row[1] is not None)
            if (expected_version is None) == present:
                return False
            if expected_version is not None and version != expected_version:
                return False
            if not present and payload is None:
                return True  # deleting what is absent
            db.execute(
                "INSERT INTO tokens (key, version, data) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET version = excluded.version, data = excluded.data",
                (key, version + 1, payload),
            )
        if new is not None:
            new.version = version + 1
        return True

    # registrations
    async def get_registration(self, issuer: str, redirect_uris: Sequence[str]) -> dict[str, Any] | None:
        row = self._one(
            "SELECT data FROM registrations WHERE key = ?", (registration_key(issuer, redirect_uris),)
        )
        return None if row is None else json.loads(row[0])

    async def put_registration(
        self, issuer: str, redirect_uris: Sequence[str], reg: dict[str, Any], *, if_absent: bool = True
    ) -> dict[str, Any]:
        k = registration_key(issuer, redirect_uris)
        with self._tx() as db:
            if if_absent:
                row = db.execute("SELECT data FROM registrations WHERE key = ?", (k,)).fetchone()
                if row is not None:
                    return json.loads(row[0])
            payload = dumps(reg)
            db.execute(
                "INSERT OR REPLACE INTO registrations (key, client_id, data) VALUES (?, ?, ?)",
                (k, reg.get("client_id"), payload),
            )
        return json.loads(payload)

    async def delete_registration(self, issuer: str, redirect_uris: Sequence[str], client_id: str) -> bool:
        with self._mu:
            cur = self._db.execute(
                "DELETE FROM registrations WHERE key = ? AND client_id = ?",
                (registration_key(issuer, redirect_uris), client_id),
            )
            return cur.rowcount == 1

    # flows
    _LIVE = "finished = 0 AND expires_at > ?"

    async def claim_flow(self, flow: PendingFlow) -> PendingFlow:
        now = self._now()
        with self._tx() as db:
            self._gc(db, now)
            row = db.execute(
                f"SELECT f.data FROM flow_keys k JOIN flows f ON f.state = k.state "
                f"WHERE k.flow_key = ? AND {self._LIVE}",
                (flow.flow_key, now),
            ).fetchone()
            row = (
                row
                or db.execute(
                    f"SELECT data FROM flows WHERE state = ? AND {self._LIVE}", (flow.state, now)
                ).fetchone()
            )
            if row is not None:
                return PendingFlow.from_dict(json.loads(row[0]))
            db.execute(
                "INSERT OR REPLACE INTO flows (state, flow_key, data, expires_at) VALUES (?, ?, ?, ?)",
                (flow.state, flow.flow_key, dumps(flow.to_dict()), flow.expires_at),
            )
            db.execute(
                "INSERT OR REPLACE INTO flow_keys (flow_key, state) VALUES (?, ?)",
                (flow.flow_key, flow.state),
            )
        return flow

    async def get_flow(self, state: str) -> PendingFlow | None:
        row = self._one(f"SELECT data FROM flows WHERE state = ? AND {self._LIVE}", (state, self._now()))
        return None if row is None else PendingFlow.from_dict(json.loads(row[0]))

    async def take_flow(self, state: str) -> PendingFlow | None:
        now = self._now()
        with self._tx() as db:
            row = db.execute(
                f"SELECT data FROM flows WHERE state = ? AND taken = 0 AND {self._LIVE}", (state, now)
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE flows SET taken = 1 WHERE state = ?", (state,))
        return PendingFlow.from_dict(json.loads(row[0]))

    async def finish_flow(self, state: str, outcome: dict[str, Any]) -> None:
        now = self._now()
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO flow_outcomes (state, finished_at, data) VALUES (?, ?, ?)",
                (state, now, dumps(outcome)),
            )
            db.execute("UPDATE flows SET finished = 1 WHERE state = ?", (state,))
            db.execute("DELETE FROM flow_keys WHERE state = ?", (state,))

    async def flow_outcome(self, state: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM flow_outcomes WHERE state = ?", (state,))
        return None if row is None else json.loads(row[0])

    async def pending_flow(self, flow_key: str) -> PendingFlow | None:
        row = self._one(
            f"SELECT f.data FROM flow_keys k JOIN flows f ON f.state = k.state WHERE k.flow_key = ? AND {self._LIVE}",
            (flow_key, self._now()),
        )
        return None if row is None else PendingFlow.from_dict(json.loads(row[0]))

    @staticmethod
    def _gc(db: sqlite3.Connection, now: float) -> None:
        horizon = now - OUTCOME_RETENTION_S
        db.execute(
            "DELETE FROM flow_keys WHERE state IN (SELECT state FROM flows WHERE expires_at < ?)", (horizon,)
        )
        db.execute("DELETE FROM flows WHERE expires_at < ?", (horizon,))
        db.execute("DELETE FROM flow_outcomes WHERE finished_at < ?", (horizon,))

    # locks (LeaseLocks primitives; leases on the wall clock, shared by processes)
    async def _lock_try(self, name: str, owner: str, lease_s: float) -> bool:
        t = time.time()
        with self._mu:
            cur = self._db.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE locks.expires_at <= ?",
                (name, owner, t + lease_s, t),
            )
            return cur.rowcount == 1

    async def _lock_renew(self, name: str, owner: str, lease_s: float) -> bool:
        t = time.time()
        with self._mu:
            cur = self._db.execute(
                "UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?",
                (t + lease_s, name, owner, t),
            )
            return cur.rowcount == 1

    async def _lock_release(self, name: str, owner: str) -> bool:
        with self._mu:
            cur = self._db.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
            return cur.rowcount == 1

    async def break_locks(self) -> int:
        """Harness only: drop every lock row, as a lost lease or a store failover would (C10)."""
        with self._mu:
            return int(self._db.execute("DELETE FROM locks").rowcount)

    async def close(self) -> None:
        with self._mu:
            self._db.close()
