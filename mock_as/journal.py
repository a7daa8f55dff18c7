"""The journal: an ordered, thread-safe log of everything the mock servers saw and did.

Checks read only the journal (plus the adapter's outcome) to give verdicts, so every entry carries enough
to tell clients, tabs, replicas, flows and token families apart.

Entry kinds:
  * ``request`` / ``response``: one pair per HTTP exchange, same ``exchange`` id.
  * domain events: ``client_registered``, ``code_issued``, ``code_redeemed``, ``code_replayed``,
    ``token_issued``, ``refresh_rotated``, ``refresh_reused``, ``reuse_detected``, ``grace_reissued``,
    ``family_revoked``, ``token_rejected``, ``token_revoked``, ``consent``, ``fault_injected``,
    ``gate_held``, ``gate_released``, ``clock_advanced``, ``knobs_changed``, ``step_up_challenge``, ...
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Request header clients (or adapters) may set to say which tab or replica sent a request.
ACTOR_HEADER = "x-harness-actor"
#: Request header a harness may set to tie a journaled request to the client-side request that sent it
#: (journaled as ``rid``; the race machines use it to know which requests are parked at a gate).
REQUEST_ID_HEADER = "x-harness-request"

# Token-shaped values are cut to a prefix before they reach the journal, logs or reports.
# "token" is RFC 7009 revocation's and RFC 7662 introspection's parameter: an access or refresh token.
_SECRET_FIELDS = {"access_token", "refresh_token", "code", "code_verifier", "client_secret", "authorization",
                  "token", "id_token", "client_assertion", "password"}
REDACT_PREFIX = 8


def redact(value: Any) -> Any:
    """Shorten a secret to a recognisable prefix (enough to correlate, too little to use)."""
    if isinstance(value, str) and len(value) > REDACT_PREFIX:
        return value[:REDACT_PREFIX] + "…"
    return value


def redact_mapping(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (redact(v) if k.lower() in _SECRET_FIELDS else v) for k, v in data.items()}


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: float  # the mock's clock (manual or system)
    wall: float  # real time, for ordering across processes and for durations
    kind: str
    endpoint: str | None = None
    actor: str | None = None  # tab / replica label from ACTOR_HEADER, when the client sends one
    client_id: str | None = None
    flow: str | None = None  # the OAuth `state` of the flow this concerns
    family: str | None = None  # refresh-token family id
    exchange: int | None = None  # ties a request to its response and to the events it caused
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    def __init__(self, clock_now: Callable[[], float] = time.time) -> None:
        self._clock_now = clock_now
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._seq = itertools.count(1)
        self._exchange = itertools.count(1)
        self._listeners: list[Callable[[Entry], None]] = []

    def new_exchange(self) -> int:
        return next(self._exchange)

    def record(self, kind: str, **fields: Any) -> Entry:
        known = {k: fields.pop(k) for k in list(fields) if k in Entry.__dataclass_fields__}
        data = known.pop("data", {}) or {}
        data.update(fields)
        with self._cond:
            entry = Entry(seq=next(self._seq), ts=self._clock_now(), wall=time.time(), kind=kind,
                          data=data, **known)
            self._entries.append(entry)
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(entry)
        return entry

    def entries(self, kind: str | Iterable[str] | None = None, since: int = 0, **match: Any) -> list[Entry]:
        """Entries with seq > since, optionally of some kinds and with matching top-level fields."""
        kinds = {kind} if isinstance(kind, str) else (set(kind) if kind is not None else None)
        with self._lock:
            snapshot = list(self._entries)
        return [e for e in snapshot
                if e.seq > since and (kinds is None or e.kind in kinds)
                and all(getattr(e, k, e.data.get(k)) == v for k, v in match.items())]

    def wait_for(self, predicate: Callable[[list[Entry]], bool], timeout: float = 10.0) -> bool:
        """Block until predicate(all entries) holds. For tests driving the mock from another thread.

        The timeout is a safety net for a broken client, never a way to order events.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._entries):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def subscribe(self, listener: Callable[[Entry], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._entries[-1].seq if self._entries else 0

    def to_jsonl(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for e in self.entries():
                fh.write(json.dumps(e.to_dict(), default=str) + "\n")

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
