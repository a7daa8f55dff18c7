"""Checks for the multi-tab flow scenarios (C01-C04, C07), read from the mock's journal.

The mock journals every ``/authorize`` request with ``flow`` = its ``state``, ``code_issued`` with the
(redacted) code and the flow it belongs to, and every token request with the code it presents, so a
check can tell which flow a redeemed code came from without trusting the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.journal_query import describe, field
from harness.model import FAIL, PASS, SKIP, Check, CheckContext, Verdict


def _code_exchanges(ctx: CheckContext) -> list[Any]:
    return list(ctx.q.code_requests())


def _issued(ctx: CheckContext) -> dict[str, Any]:
    """Redacted code -> its ``code_issued`` entry."""
    return {field(e, "code"): e for e in ctx.q.of("code_issued") if field(e, "code")}


def _resource_key(entry: Any) -> Any:
    """The (server) key of an /authorize request: its ``resource`` (tenant and user are the client's)."""
    return field(entry, "resource") or "(no resource)"


def one_registration_per_key(*, id: str, requirements: Sequence[str]) -> Check:
    """At most one ``/register`` per (issuer, redirect_uris): registrations are persisted and shared."""
    def fn(ctx: CheckContext) -> Verdict:
        regs = list(ctx.q.requests("register"))
        if not regs:
            return SKIP("the client sent no /register (pre-registered or CIMD client), so there is nothing to count")
        groups: dict[Any, list[Any]] = {}
        for e in regs:
            uris = field(e, "redirect_uris")
            key = tuple(sorted(uris)) if isinstance(uris, list) else (str(uris),)
            groups.setdefault(key, []).append(e)
        key, worst = max(groups.items(), key=lambda kv: len(kv[1]))
        if len(worst) > 1:
            ids = sorted({r.client_id for r in ctx.q.of("client_registered") if r.client_id})
            return FAIL(f"{len(worst)} /register requests for redirect_uris {list(key)} at one issuer "
                        f"(clients {', '.join(ids) or '?'}); the tabs must share one persisted registration",
                        worst)
        return PASS(f"{len(regs)} /register request(s), at most one per (issuer, redirect_uris)", regs)

    return Check(id, tuple(requirements), fn, title="at most one /register per (issuer, redirect_uris)")


def no_invalid_grant_on_code_exchange(*, id: str, requirements: Sequence[str], why: str) -> Check:
    """No authorization-code exchange was refused with ``invalid_grant``."""
    def fn(ctx: CheckContext) -> Verdict:
        exchanges = _code_exchanges(ctx)
        if not exchanges:
            return FAIL("the client never exchanged an authorization code, so the flow never completed")
        refused = [e for e in ctx.q.of("token_refused", grant_type="authorization_code")
                   if field(e, "error") == "invalid_grant"]
        if refused:
            first = refused[0]
            issued = _issued(ctx).get(field(first, "code"))
            return FAIL(f"the token endpoint refused code {field(first, 'code')} with invalid_grant "
                        f"({field(first, 'error_description')}): {why}",
                        [e for e in (issued, first) if e is not None], [first.seq])
        return PASS(f"{len(exchanges)} code exchange(s), none refused with invalid_grant", exchanges)

    return Check(id, tuple(requirements), fn, title="no invalid_grant on the code exchange")


def max_outstanding_authorize(n: int, *, id: str, requirements: Sequence[str]) -> Check:
    """At most ``n`` interactive flows outstanding at once per server key.

    An ``/authorize`` request opens a flow (its ``state``); the flow closes when the code issued for it is
    presented at the token endpoint, or when the AS answered without a code (an error redirect or page).
    """
    def fn(ctx: CheckContext) -> Verdict:
        authz = list(ctx.q.requests("authorize"))
        if not authz:
            return FAIL("the client never sent an /authorize request, so its flows could not be counted")
        code_flow = {field(e, "code"): e.flow for e in ctx.q.of("code_issued")}
        open_: dict[Any, dict[Any, Any]] = {}
        worst: list[Any] = []
        for e in ctx.q.where(lambda e: e.kind in ("request", "response")):
            if e.kind == "request" and e.endpoint == "authorize":
                flows = open_.setdefault(_resource_key(e), {})
                flows[e.flow or f"?{e.seq}"] = e
                if len(flows) > len(worst):
                    worst = list(flows.values())
            elif e.kind == "response" and e.endpoint == "authorize":
                redirect = field(e, "redirect")
                if not (isinstance(redirect, dict) and "code" in redirect):
                    for flows in open_.values():
                        flows.pop(e.flow, None)
            elif e.kind == "request" and e.endpoint == "token" and field(e, "grant_type") == "authorization_code":
                f = code_flow.get(field(e, "code"))
                for flows in open_.values():
                    flows.pop(f, None)
        if len(worst) > n:
            return FAIL(f"{len(worst)} interactive flows (/authorize #{', #'.join(str(e.seq) for e in worst)}) were "
                        f"outstanding at once for one server; at most {n} per (tenant, user, server), the other "
                        f"requests must join it", worst)
        return PASS(f"{len(authz)} /authorize request(s), never more than {n} outstanding per server", authz[:10])

    return Check(id, tuple(requirements), fn, title=f"at most {n} outstanding /authorize per key")


def authorize_count_at_most(n: int, *, id: str, requirements: Sequence[str], after: str | None = None,
                            what: str = "") -> Check:
    """At most ``n`` ``/authorize`` requests (after the harness action ``after``, if given)."""
    def fn(ctx: CheckContext) -> Verdict:
        q = ctx.q
        mark = None
        if after is not None:
            mark = q.harness(after).first()
            if mark is None:
                return SKIP(f"the harness never ran {after}")
            q = q.after(mark)
        authz = list(q.requests("authorize"))
        if not authz:
            return FAIL(f"no /authorize request{' after ' + after if after else ''}: the requests never needed "
                        f"an interactive flow, so the storm did not happen")
        if len(authz) > n:
            return FAIL(f"{len(authz)} /authorize requests {what}(one browser tab each) for one (user, server); "
                        f"at most {n}", ([mark] if mark else []) + authz, [e.seq for e in authz])
        return PASS(f"{len(authz)} /authorize request(s) {what}".rstrip(), authz)

    return Check(id, tuple(requirements), fn, title=f"at most {n} /authorize")


def stale_code_not_redeemed(*, id: str, requirements: Sequence[str]) -> Check:
    """A code issued to a flow that a later ``/authorize`` superseded is never redeemed after that."""
    def fn(ctx: CheckContext) -> Verdict:
        authz = list(ctx.q.requests("authorize"))
        superseded: dict[str, tuple[Any, Any]] = {}  # code -> (code_issued, the /authorize that superseded it)
        for issued in ctx.q.of("code_issued"):
            later = next((a for a in authz if a.seq > issued.seq and a.flow != issued.flow), None)
            if later is not None and field(issued, "code"):
                superseded[field(issued, "code")] = (issued, later)
        if not superseded:
            return SKIP("no flow was superseded by a newer one, so no callback could be stale")
        for req in _code_exchanges(ctx):
            hit = superseded.get(field(req, "code"))
            if hit is not None and req.seq > hit[1].seq:
                issued, later = hit
                return FAIL(f"the client redeemed code {field(req, 'code')} of the abandoned flow "
                            f"{(issued.flow or '?')[:8]} (#{issued.seq}) after flow {(later.flow or '?')[:8]} "
                            f"started (#{later.seq}): a stale callback was dispatched to the live flow",
                            [issued, later, req], [req.seq])
        return PASS(f"{len(superseded)} superseded code(s), none redeemed", [v[0] for v in superseded.values()])

    return Check(id, tuple(requirements), fn, title="a stale callback's code is never redeemed")


def only_issued_codes_redeemed(*, id: str, requirements: Sequence[str]) -> Check:
    """Every code presented at the token endpoint is one the AS issued (no forged callback's code)."""
    def fn(ctx: CheckContext) -> Verdict:
        exchanges = _code_exchanges(ctx)
        if not exchanges:
            return FAIL("the client never exchanged an authorization code, so the live flow never completed")
        issued = _issued(ctx)
        for req in exchanges:
            if field(req, "code") not in issued:
                return FAIL(f"the client presented code {field(req, 'code')}, which the AS never issued, to the "
                            f"token endpoint: it acted on a callback whose state it had not sent", [req], [req.seq])
        return PASS(f"{len(exchanges)} code exchange(s), each with a code the AS issued", exchanges)

    return Check(id, tuple(requirements), fn, title="only codes the AS issued are redeemed")


def each_code_redeemed_once(*, id: str, requirements: Sequence[str]) -> Check:
    """Each authorization code is presented to the token endpoint at most once."""
    def fn(ctx: CheckContext) -> Verdict:
        exchanges = _code_exchanges(ctx)
        if not exchanges:
            return FAIL("the client never exchanged an authorization code, so the flow never completed")
        groups: dict[Any, list[Any]] = {}
        for e in exchanges:
            groups.setdefault(field(e, "code") or f"?{e.seq}", []).append(e)
        code, reqs = max(groups.items(), key=lambda kv: len(kv[1]))
        if len(reqs) > 1:
            return FAIL(f"code {code} was sent to the token endpoint {len(reqs)} times "
                        f"({', '.join(describe(r) for r in reqs)}); a duplicated callback must not be exchanged again",
                        reqs)
        return PASS(f"{len(exchanges)} code exchange(s), each code once", exchanges)

    return Check(id, tuple(requirements), fn, title="each code redeemed once")


def steps_ok(id: str, requirements: Sequence[str], *, skip_first: int = 0, title: str = "") -> Check:
    """Every client step after the first ``skip_first`` succeeded (e.g. the live flow completed)."""
    def fn(ctx: CheckContext) -> Verdict:
        steps = ctx.outcome.steps[skip_first:]
        if not steps:
            return FAIL(f"the client reported {len(ctx.outcome.steps)} step(s), none to judge after the first "
                        f"{skip_first}")
        bad = [s for s in steps if not s.ok]
        if bad:
            s = bad[0]
            return FAIL(f"step {s.action.get('do')} ({s.actor}) failed with {s.error}: {s.detail[:200]}")
        return PASS(f"the {len(steps)} step(s) that follow succeeded")

    return Check(id, tuple(requirements), fn, title=title or "the live flow completes")
