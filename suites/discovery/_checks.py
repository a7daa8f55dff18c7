"""Checks of the discovery/ area: which well-known URLs the client asked for, in which order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checks import check
from harness.model import FAIL, PASS, Check, CheckContext, Verdict

DISCOVERY = ("prm", "as_metadata", "oidc_metadata")
PRM_WK = "/.well-known/oauth-protected-resource"
AS_WK = "/.well-known/oauth-authorization-server"
OIDC_WK = "/.well-known/openid-configuration"


def discovery_requests(ctx: CheckContext) -> list[Any]:
    return [e for e in ctx.q.requests() if e.endpoint in DISCOVERY]


def path(e: Any) -> str:
    return str((e.data or {}).get("path") or "")


def continues_after(failing: str, following: str, status: int, *, id: str, requirements: Sequence[str]) -> Check:
    """After ``failing`` answered ``status`` (a 4xx), the client went on to ``following``."""
    @check(id, requirements, title=f"discovery continues after a {status}")
    def fn(ctx: CheckContext) -> Verdict:
        reqs = discovery_requests(ctx)
        first = next((e for e in reqs if path(e) == failing), None)
        if first is None:
            return FAIL(f"the client never asked for {failing}, so the {status} fallback was not exercised")
        nxt = next((e for e in reqs if e.seq > first.seq and path(e) == following), None)
        if nxt is None:
            return FAIL(f"{failing} answered {status} (#{first.seq}) and the client gave up instead of trying "
                        f"{following}; a 4xx means 'not here', discovery must continue", [first], [first.seq])
        return PASS(f"after {status} on {failing} (#{first.seq}) the client tried {following} (#{nxt.seq})",
                    [first, nxt])

    return fn


def stops_after(failing: str, following: str, status: int, *, id: str, requirements: Sequence[str]) -> Check:
    """After ``failing`` answered ``status`` (a 5xx), the client did not go on to ``following``, nor authorize."""
    @check(id, requirements, title=f"discovery stops at a {status}")
    def fn(ctx: CheckContext) -> Verdict:
        reqs = discovery_requests(ctx)
        first = next((e for e in reqs if path(e) == failing), None)
        if first is None:
            return FAIL(f"the client never asked for {failing}, so the {status} stop was not exercised")
        bad = [e for e in reqs if e.seq > first.seq and path(e) == following]
        bad += list(ctx.q.after(first).requests("authorize"))
        if bad:
            return FAIL(f"{failing} answered {status} (#{first.seq}), a server error, yet the client went on "
                        f"(#{bad[0].seq} {path(bad[0]) or bad[0].endpoint}); a 5xx must stop discovery",
                        [first, *bad], [e.seq for e in bad])
        return PASS(f"the client stopped discovery after {status} on {failing}", [first])

    return fn


def asked_in_order(paths: Sequence[str], *, id: str, requirements: Sequence[str], title: str = "") -> Check:
    """The client asked for each of ``paths`` (discovery URLs), first time each, in this order."""
    @check(id, requirements, title=title or "well-known URLs tried in the revision's order")
    def fn(ctx: CheckContext) -> Verdict:
        reqs = discovery_requests(ctx)
        seen: list[Any] = []
        for p in paths:
            e = next((r for r in reqs if path(r) == p), None)
            if e is None:
                return FAIL(f"the client never asked for {p}; expected the order {' -> '.join(paths)}",
                            seen, [s.seq for s in seen])
            seen.append(e)
        for a, b in zip(seen, seen[1:], strict=False):
            if b.seq < a.seq:
                return FAIL(f"the client asked for {path(b)} (#{b.seq}) before {path(a)} (#{a.seq}); "
                            f"the order is {' -> '.join(paths)}", seen, [a.seq, b.seq])
        return PASS(f"asked in order: {' -> '.join(f'{path(e)} (#{e.seq})' for e in seen)}", seen)

    return fn


def first_asked(kind: str, expected: str, *, id: str, requirements: Sequence[str]) -> Check:
    """The first discovery request of endpoint ``kind`` (prm, as_metadata...) was for ``expected``."""
    @check(id, requirements, title=f"the first {kind} request is {expected}")
    def fn(ctx: CheckContext) -> Verdict:
        e = next((r for r in discovery_requests(ctx) if r.endpoint == kind), None)
        if e is None:
            return FAIL(f"the client never fetched {kind} metadata")
        if path(e) != expected:
            return FAIL(f"the first {kind} request (#{e.seq}) was {path(e)}, expected {expected}", [e], [e.seq])
        return PASS(f"the first {kind} request (#{e.seq}) was {expected}", [e])

    return fn
