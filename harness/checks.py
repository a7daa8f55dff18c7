"""Reusable check builders. Each returns a :class:`Check` whose function reads the journal.

A check must not pass vacuously: when the behaviour it judges never happened (no refresh at all, say), it
fails or skips with a message saying so, unless the builder is told that absence is fine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from harness.journal_query import describe, field
from harness.model import FAIL, INFO, PASS, SKIP, Check, CheckContext, Verdict


def check(id: str, requirements: Sequence[str], *, severity: str = "must", title: str = "",
          since: str | None = None) -> Callable[[Callable[[CheckContext], Verdict]], Check]:
    """Decorator: turn ``fn(ctx) -> Verdict`` into a Check."""
    def wrap(fn: Callable[[CheckContext], Verdict]) -> Check:
        return Check(id=id, requirements=tuple(requirements), fn=fn, severity=severity,
                     title=title or (fn.__doc__ or "").strip().split("\n")[0], since=since)
    return wrap


def outcome_ok(id: str, requirements: Sequence[str], *, allow: Iterable[str] = (),
               title: str = "every client step succeeded") -> Check:
    """PASS when every client step succeeded (errors whose class starts with one of ``allow`` are fine)."""
    allowed = tuple(allow)

    def fn(ctx: CheckContext) -> Verdict:
        bad = [s for s in ctx.outcome.steps if not s.ok and not (s.error or "").startswith(allowed)] if allowed \
            else [s for s in ctx.outcome.steps if not s.ok]
        driver = [e for e in ctx.outcome.errors if e.startswith("driver:") or e in ("hang", "timeout")]
        if bad:
            s = bad[0]
            return FAIL(f"step {s.action.get('do')} failed with {s.error}: {s.detail[:200]}")
        if driver and not allowed:
            return FAIL(f"the run did not complete: {driver[0]}")
        if not ctx.outcome.steps:
            return FAIL("the client reported no steps at all")
        return PASS(f"all {len(ctx.outcome.steps)} client steps succeeded")

    return Check(id, tuple(requirements), fn, title=title)


def at_most_n_events(kind: str, n: int, *, per: str | Callable[[Any], Any] | None = None, id: str,
                     requirements: Sequence[str], severity: str = "must", what: str | None = None,
                     **match: Any) -> Check:
    """At most ``n`` entries of ``kind`` (request entries: ``kind="request", endpoint=...``) per key."""
    label = what or kind

    def fn(ctx: CheckContext) -> Verdict:
        q = ctx.q.of(kind, **match)
        groups = q.group_by(per) if per is not None else {None: list(q)}
        worst = max(groups.items(), key=lambda kv: len(kv[1]), default=(None, []))
        if len(worst[1]) > n:
            key = f" for {worst[0]}" if worst[0] is not None else ""
            return FAIL(f"{len(worst[1])} {label} events{key}, at most {n} allowed", worst[1])
        return PASS(f"at most {n} {label} per key ({len(q)} in all)", list(q)[:10])

    return Check(id, tuple(requirements), fn, severity=severity, title=f"at most {n} {label} per key")


def no_event(kind: str, *, id: str, requirements: Sequence[str], severity: str = "must",
             why: str = "", **match: Any) -> Check:
    """FAIL when any entry of ``kind`` was journaled (e.g. ``family_revoked``)."""
    def fn(ctx: CheckContext) -> Verdict:
        hits = list(ctx.q.of(kind, **match))
        if hits:
            return FAIL(f"the mock journaled {kind} ({describe(hits[0])}){': ' + why if why else ''}", hits)
        return PASS(f"no {kind}")

    return Check(id, tuple(requirements), fn, severity=severity, title=f"no {kind}")


def refresh_happened(ctx: CheckContext) -> list[Any]:
    return list(ctx.q.refresh_requests())


def no_refresh_token_redeemed_twice(*, id: str, requirements: Sequence[str], require_refresh: bool = True) -> Check:
    """Each refresh token is presented to the token endpoint at most once (grouped by its redacted prefix)."""
    def fn(ctx: CheckContext) -> Verdict:
        reqs = refresh_happened(ctx)
        if not reqs:
            if require_refresh:
                return FAIL("the client never sent grant_type=refresh_token, so single redemption is unproven")
            return SKIP("no refresh happened")
        groups: dict[Any, list[Any]] = {}
        for e in reqs:
            groups.setdefault(field(e, "refresh_token") or f"?{e.seq}", []).append(e)
        dup = {k: v for k, v in groups.items() if len(v) > 1}
        if dup:
            rt, es = max(dup.items(), key=lambda kv: len(kv[1]))
            return FAIL(f"refresh token {rt} was redeemed {len(es)} times "
                        f"(seqs {', '.join(str(e.seq) for e in es)}); a single-flight refresh sends it once", es)
        return PASS(f"{len(reqs)} refresh request(s), each with a distinct refresh token", reqs)

    return Check(id, tuple(requirements), fn, title="each refresh token redeemed at most once")


def refresh_before_authorize(*, after: str, id: str, requirements: Sequence[str]) -> Check:
    """After the harness action ``after`` (e.g. revoke_tokens), the first of {refresh, /authorize} is a refresh."""
    def fn(ctx: CheckContext) -> Verdict:
        mark = ctx.q.harness(after).first()
        if mark is None:
            return SKIP(f"the harness never ran {after}")
        later = ctx.q.after(mark)
        rejected = later.of("token_rejected").first()
        refresh = later.refresh_requests().first()
        authorize = later.requests("authorize").first()
        ev = [e for e in (mark, rejected, refresh, authorize) if e is not None]
        if authorize is not None and (refresh is None or authorize.seq < refresh.seq):
            return FAIL(f"after {after} the client went to /authorize (#{authorize.seq}) without first sending "
                        f"grant_type=refresh_token", ev, [authorize.seq] + ([rejected.seq] if rejected else []))
        if refresh is None:
            if rejected is None:
                return SKIP(f"the resource server never rejected a token after {after}")
            return FAIL("the resource server answered 401 but the client never tried a refresh", ev)
        return PASS(f"the client refreshed (#{refresh.seq}) before any new /authorize", ev)

    return Check(id, tuple(requirements), fn, title="refresh before interactive re-authorization")


def no_authorize_after(kind: str, *, id: str, requirements: Sequence[str], **match: Any) -> Check:
    """No /authorize request after the first entry of ``kind`` (e.g. after the first token_issued)."""
    def fn(ctx: CheckContext) -> Verdict:
        first = ctx.q.of(kind, **match).first()
        if first is None:
            return SKIP(f"no {kind} happened")
        later = list(ctx.q.after(first).requests("authorize"))
        if later:
            return FAIL(f"{len(later)} /authorize request(s) after {describe(first)}", [first, *later])
        return PASS(f"no /authorize after {kind}", [first])

    return Check(id, tuple(requirements), fn, title=f"no /authorize after {kind}")


def code_exchanged_with_own_client_id(*, id: str, requirements: Sequence[str]) -> Check:
    """Every authorization code is redeemed by the client_id it was issued to."""
    def fn(ctx: CheckContext) -> Verdict:
        issued = {field(e, "code"): e for e in ctx.q.of("code_issued")}
        exchanges = list(ctx.q.code_requests())
        if not exchanges:
            return SKIP("no authorization code was exchanged")
        for req in exchanges:
            src = issued.get(field(req, "code"))
            cid = field(req, "client_id") or req.client_id
            if src is not None and src.client_id and cid != src.client_id:
                return FAIL(f"code {field(req, 'code')} issued to {src.client_id} was exchanged as {cid}", [src, req])
        return PASS(f"{len(exchanges)} code exchange(s), each with the client_id the code was issued to", exchanges)

    return Check(id, tuple(requirements), fn, title="codes redeemed by their own client_id")


def no_token_after_error_callback(*, id: str, requirements: Sequence[str]) -> Check:
    """After an ``error=`` callback for a flow, no token request carries that flow's code (there is none)
    and no new /authorize storm follows (at most one more /authorize)."""
    def fn(ctx: CheckContext) -> Verdict:
        errs = list(ctx.q.of("callback_error")) or [e for e in ctx.q.of("fault_injected")
                                                     if field(e, "action") == "callback_error"]
        if not errs:
            return SKIP("no error= callback was injected")
        first = errs[0]
        tokens = list(ctx.q.after(first).requests("token", grant_type="authorization_code"))
        authz = list(ctx.q.after(first).requests("authorize"))
        if tokens:
            return FAIL("the client sent a code exchange after an error= callback", [first, *tokens])
        if len(authz) > 1:
            return FAIL(f"{len(authz)} new /authorize requests after an error= callback (a re-prompt loop)",
                        [first, *authz])
        return PASS("no code exchange and no re-prompt loop after the error= callback", [first])

    return Check(id, tuple(requirements), fn, title="error= callback ends the flow")


def info(id: str, message: Callable[[CheckContext], str]) -> Check:
    """An INFO-only observation (never fails), e.g. how many requests a burst took."""
    return Check(id, (), lambda ctx: INFO(message(ctx)), severity="info")


def every_request(endpoint: str, pred: Callable[[Any], str | None], *, id: str, requirements: Sequence[str],
                  what: str, severity: str = "must", absent: str = "fail", **match: Any) -> Check:
    """Every request to ``endpoint`` (matching ``match``) passes ``pred``, which returns None when the request
    is fine, else one sentence saying what is wrong with it. ``absent``: "fail" | "skip" when no such request
    was made (never a vacuous pass). ``what`` names the requests in messages ("/authorize request")."""
    def fn(ctx: CheckContext) -> Verdict:
        reqs = list(ctx.q.requests(endpoint, **match))
        if not reqs:
            msg = f"the client sent no {what}, so this could not be judged"
            return SKIP(msg) if absent == "skip" else FAIL(msg)
        for req in reqs:
            problem = pred(req)
            if problem:
                return FAIL(f"{what} #{req.seq}: {problem}", [req], [req.seq])
        return PASS(f"all {len(reqs)} {what}(s) are fine", reqs[:10])

    return Check(id, tuple(requirements), fn, severity=severity, title=f"every {what} is well-formed")


def no_request(endpoint: str, *, id: str, requirements: Sequence[str], why: str, severity: str = "must",
               **match: Any) -> Check:
    """FAIL when the client sent any request to ``endpoint`` (matching ``match``); ``why`` says why it must not."""
    def fn(ctx: CheckContext) -> Verdict:
        hits = list(ctx.q.requests(endpoint, **match))
        if hits:
            return FAIL(f"the client sent {len(hits)} request(s) to {endpoint} ({describe(hits[0])}): {why}",
                        hits[:10], [e.seq for e in hits[:10]])
        return PASS(f"no request to {endpoint}")

    return Check(id, tuple(requirements), fn, severity=severity, title=f"no request to {endpoint}")
