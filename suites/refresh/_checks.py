"""Checks specific to refresh/: which refresh token a refresh presents, which access token a request carries.

Secrets are journaled as 8-character prefixes (``mock_as.journal.redact``); the same prefix names the same
token across entries. Scenarios that compare ACCESS tokens set ``jwt_access_tokens=False``: every JWT
starts with the same header, so JWT prefixes cannot tell two access tokens apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, SKIP, Check, CheckContext, Verdict

#: AS events that mean "this refresh token got past validation and was redeemed (or caught as reused)".
REDEMPTIONS = ("refresh_rotated", "refresh_redeemed", "grace_reissued", "grace_returned_current", "reuse_detected")


def _mark(ctx: CheckContext, after: str | None) -> Any:
    return ctx.q.harness(after).first() if after else None


def single_redemption(*, id: str, requirements: Sequence[str]) -> Check:
    """Each refresh token is redeemed at most once, counted by the AS's own redemption events.

    Unlike counting requests, a request the AS refused before redeeming (an Entra-like ``invalid_target``
    for ``resource`` on refresh, retried without it) does not count as a redemption.
    """
    @check(id, requirements, title="each refresh token redeemed at most once (AS events)")
    def fn(ctx: CheckContext) -> Verdict:
        events = list(ctx.q.of(REDEMPTIONS))
        if not events:
            refused = ctx.q.of("token_refused", grant_type="refresh_token").first()
            if refused is not None:  # e.g. invalid_target: judged by C24, not a concurrency question
                return SKIP(f"no refresh token was redeemed: the AS refused the refresh ({field(refused, 'error')}, "
                            f"#{refused.seq}), so single-flight refresh cannot be judged", [refused])
            return FAIL("the client never redeemed a refresh token, so single-flight refresh is unproven")
        groups: dict[Any, list[Any]] = {}
        for e in events:
            groups.setdefault(field(e, "presented") or f"?{e.seq}", []).append(e)
        dup = {k: v for k, v in groups.items() if len(v) > 1}
        if dup:
            rt, es = max(dup.items(), key=lambda kv: len(kv[1]))
            return FAIL(f"refresh token {rt} was redeemed {len(es)} times (seqs {', '.join(str(e.seq) for e in es)}); "
                        f"concurrent requests must share one refresh (single-flight)", es)
        return PASS(f"{len(events)} redemption(s), each of a distinct refresh token", events)
    return fn


def refreshes_present_latest_rt(*, id: str, requirements: Sequence[str], at_least: int = 1,
                                after: str | None = None) -> Check:
    """Every refresh presents the refresh token the AS issued most recently (rotated or original).

    Catches a client that loses the rotated token (C12) or the original one when the response omits it
    (C13). FAILs when fewer than ``at_least`` refreshes happened (after the harness action ``after``).
    """
    @check(id, requirements, title="each refresh presents the newest refresh token")
    def fn(ctx: CheckContext) -> Verdict:
        mark = _mark(ctx, after)
        if after and mark is None:
            return SKIP(f"the harness never ran {after}")
        refreshes = list(ctx.q.after(mark).refresh_requests()) if mark else list(ctx.q.refresh_requests())
        issued = [e for e in ctx.q.of("token_issued") if field(e, "refresh_token")]
        for req in refreshes:
            before = [e for e in issued if e.seq < req.seq]
            if not before:
                continue
            latest = field(before[-1], "refresh_token")
            sent = field(req, "refresh_token")
            if sent != latest:
                return FAIL(f"refresh #{req.seq} presented refresh token {sent}, but the newest one the AS issued "
                            f"(#{before[-1].seq}) is {latest}: the client lost or never stored it",
                            [before[-1], req], [req.seq])
        if len(refreshes) < at_least:
            authz = ctx.q.after(mark).requests("authorize").first() if mark else None
            ev = [authz] if authz is not None else []
            return FAIL(f"the client refreshed {len(refreshes)} time(s) where {at_least} refreshes were due"
                        + (f"; it went to /authorize instead (#{authz.seq})" if authz is not None else ""),
                        ev, [e.seq for e in ev])
        return PASS(f"{len(refreshes)} refresh(es), each with the newest refresh token", refreshes)
    return fn


def no_rejection_after(after: str, *, id: str, requirements: Sequence[str], why: str) -> Check:
    """After the harness action ``after``, the resource server rejects no token, and some call reaches it."""
    @check(id, requirements, title=f"no 401 after {after}")
    def fn(ctx: CheckContext) -> Verdict:
        mark = _mark(ctx, after)
        if mark is None:
            return SKIP(f"the harness never ran {after}")
        later = ctx.q.after(mark)
        rejected = later.of("token_rejected").first()
        if rejected is not None:
            return FAIL(f"the resource server rejected the access token (#{rejected.seq}, reason "
                        f"{field(rejected, 'reason')}): {why}", [mark, rejected], [rejected.seq])
        ok = [r for r in later.responses("mcp") if field(r, "status") in (200, 202)]
        if not ok:
            return FAIL(f"no MCP request succeeded after {after}, so the client's token handling is unproven", [mark])
        return PASS(f"no token was rejected after {after}; {len(ok)} MCP response(s) succeeded", [mark, ok[0]])
    return fn


def request_after_refresh_carries_new_token(actor: str, *, id: str, requirements: Sequence[str]) -> Check:
    """The first MCP request of ``actor`` after another actor's refresh carries the newest access token."""
    @check(id, requirements, title=f"{actor}'s next request carries the refreshed access token")
    def fn(ctx: CheckContext) -> Verdict:
        refreshed = [e for e in ctx.q.of("token_issued", grant_type="refresh_token")]
        if not refreshed:
            return FAIL("no refresh happened, so the scenario could not test an out-of-band refresh")
        first = refreshed[0]
        nxt = ctx.q.after(first).requests("mcp").where(lambda e: e.actor == actor).first()
        if nxt is None:
            return FAIL(f"{actor} sent no MCP request after the refresh (#{first.seq})", [first])
        issued = [e for e in ctx.q.of("token_issued") if e.seq < nxt.seq and field(e, "access_token")]
        latest = issued[-1]
        sent = field(nxt, "bearer")
        if sent != field(latest, "access_token"):
            return FAIL(f"{actor} sent access token {sent} (#{nxt.seq}) after {latest.actor or 'another tab'} "
                        f"refreshed to {field(latest, 'access_token')} (#{latest.seq}): it keeps a stale copy in "
                        f"memory instead of reading the shared store", [latest, nxt], [nxt.seq])
        return PASS(f"{actor}'s first request after the refresh (#{nxt.seq}) carried the new access token",
                    [latest, nxt])
    return fn


def at_most_per_rejected_request(after: str, *, refreshes: int, authorizes: int, id: str,
                                 requirements: Sequence[str]) -> Check:
    """C19: after ``after``, at most ``refreshes`` refresh requests and ``authorizes`` /authorize requests."""
    @check(id, requirements, title="bounded refresh and re-authorization per rejected request")
    def fn(ctx: CheckContext) -> Verdict:
        mark = _mark(ctx, after)
        if mark is None:
            return SKIP(f"the harness never ran {after}")
        later = ctx.q.after(mark)
        rejected = list(later.of("token_rejected"))
        if not rejected:
            return FAIL(f"the resource server never rejected a token after {after}; the scenario did not run")
        refs = list(later.refresh_requests())
        authz = list(later.requests("authorize"))
        if len(refs) > refreshes:
            extra = refs[refreshes:]
            return FAIL(f"{len(refs)} refresh requests for one rejected call (at most {refreshes}): the client "
                        f"refreshes after every 401 instead of giving up", [*refs[:refreshes], *extra],
                        [e.seq for e in extra])
        if len(authz) > authorizes:
            extra = authz[authorizes:]
            return FAIL(f"{len(authz)} /authorize requests for one rejected call (at most {authorizes})",
                        authz, [e.seq for e in extra])
        return PASS(f"{len(rejected)} rejection(s) answered by {len(refs)} refresh(es) and {len(authz)} "
                    f"/authorize request(s)", [*rejected[:3], *refs, *authz])
    return fn




def _refresh_attempts(ctx: CheckContext) -> list[Any]:
    """Every token request that tried a refresh, wherever it was sent (the advertised endpoint or a guess)."""
    return [e for e in ctx.entries if e.kind == "request" and (
        field(e, "grant_type") == "refresh_token"
        or (e.endpoint != "token" and (field(e, "path") or "").rstrip("/").endswith("/token")))]


def if_client_refreshes(inner: Check) -> Check:
    """SKIP ``inner`` for a client that never attempts a refresh at all in the scenario.

    Such a client answers every 401 with a new interactive flow: that is C14 (judged by
    refresh/mid_session_401), and blaming it on C12, C13, C16, C20 or C24 as well would only repeat it.
    A client that refreshes once and then loses its refresh token still gets judged.
    """
    def fn(ctx: CheckContext) -> Verdict:
        if not _refresh_attempts(ctx):
            return SKIP("the client never attempted a refresh in this scenario (it re-authorizes on a 401 "
                        "instead: see C14, refresh/mid_session_401), so this check cannot be judged")
        return inner.fn(ctx)
    return Check(inner.id, inner.requirements, fn, severity=inner.severity, title=inner.title, since=inner.since)
