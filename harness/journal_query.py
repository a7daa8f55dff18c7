"""Small read-only queries over journal entries, for checks.

Request entries carry the endpoint's parameters in ``data``; depending on the endpoint they may sit at the
top level of ``data`` or under ``params`` / ``form`` / ``query`` / ``json``. :func:`field` looks in all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_NESTED = ("params", "form", "query", "json", "body")


def field(entry: Any, name: str) -> Any:
    """A top-level attribute or a data field of an entry (searching nested parameter dicts too)."""
    if name in ("seq", "ts", "wall", "kind", "endpoint", "actor", "client_id", "flow", "family", "exchange"):
        val = getattr(entry, name, None)
        if val is not None or name not in (entry.data or {}):
            return val
    data = entry.data or {}
    if name in data:
        return data[name]
    for key in _NESTED:
        sub = data.get(key)
        if isinstance(sub, dict) and name in sub:
            return sub[name]
    return None


def matches(entry: Any, **match: Any) -> bool:
    return all(field(entry, k) == v for k, v in match.items())


class Query:
    """A filtered, ordered view of entries. Every method returns a new Query or plain values."""

    def __init__(self, entries: Iterable[Any]) -> None:
        self.entries = sorted(entries, key=lambda e: e.seq)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def where(self, pred: Callable[[Any], bool]) -> Query:
        return Query(e for e in self.entries if pred(e))

    def of(self, kind: str | Iterable[str], **match: Any) -> Query:
        kinds = {kind} if isinstance(kind, str) else set(kind)
        return self.where(lambda e: e.kind in kinds and matches(e, **match))

    def requests(self, endpoint: str | None = None, **match: Any) -> Query:
        return self.where(lambda e: e.kind == "request" and (endpoint is None or e.endpoint == endpoint)
                          and matches(e, **match))

    def responses(self, endpoint: str | None = None, **match: Any) -> Query:
        return self.where(lambda e: e.kind == "response" and (endpoint is None or e.endpoint == endpoint)
                          and matches(e, **match))

    def refresh_requests(self) -> Query:
        return self.requests("token", grant_type="refresh_token")

    def code_requests(self) -> Query:
        return self.requests("token", grant_type="authorization_code")

    def harness(self, do: str) -> Query:
        """The harness's own journal marks (one per harness action, e.g. revoke_tokens)."""
        return self.where(lambda e: e.kind == "harness" and (e.data or {}).get("do") == do)

    def after(self, seq_or_entry: Any) -> Query:
        seq = getattr(seq_or_entry, "seq", seq_or_entry) or 0
        return self.where(lambda e: e.seq > seq)

    def before(self, seq_or_entry: Any) -> Query:
        seq = getattr(seq_or_entry, "seq", seq_or_entry)
        return self.where(lambda e: e.seq < seq)

    def first(self) -> Any | None:
        return self.entries[0] if self.entries else None

    def last(self) -> Any | None:
        return self.entries[-1] if self.entries else None

    def group_by(self, key: str | Callable[[Any], Any]) -> dict[Any, list[Any]]:
        fn = key if callable(key) else (lambda e: field(e, key))
        out: dict[Any, list[Any]] = defaultdict(list)
        for e in self.entries:
            out[fn(e)].append(e)
        return dict(out)

    def response_to(self, request: Any) -> Any | None:
        """The response entry of a request entry (same exchange id)."""
        return next((e for e in self.entries if e.kind == "response" and e.exchange == request.exchange
                     and request.exchange is not None), None)

    def seqs(self) -> list[int]:
        return [e.seq for e in self.entries]


def describe(entry: Any) -> str:
    """A short human label for an entry, used in check messages."""
    bits = [f"#{entry.seq} {entry.kind}"]
    if entry.endpoint:
        bits.append(entry.endpoint)
    gt = field(entry, "grant_type")
    if gt:
        bits.append(f"grant_type={gt}")
    if entry.actor:
        bits.append(f"actor={entry.actor}")
    status = field(entry, "status")
    if status and entry.kind == "response":
        bits.append(f"status={status}")
    return " ".join(bits)
