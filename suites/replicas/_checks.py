"""Checks specific to the replica scenarios (refresh-token redemptions seen by the AS, cross-replica callbacks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checks import check
from harness.journal_query import describe, field
from harness.model import FAIL, PASS, SKIP, Check, CheckContext, Verdict

#: AS events that mean "this refresh token reached the rotation logic" (one per redemption attempt).
REDEMPTIONS = ("refresh_rotated", "refresh_redeemed", "grace_reissued", "grace_returned_current", "reuse_detected")


def _redemptions(ctx: CheckContext) -> list[Any]:
    """Every redemption attempt of a refresh token, by the token presented (refusals for a revoked or
    reused token included; an ``invalid_target`` refusal never reached the token, so it is not one)."""
    out = list(ctx.q.of(REDEMPTIONS))
    seen = {e.exchange for e in out if e.exchange is not None}  # a reuse_detected is also a token_refused
    out += [e for e in ctx.q.of("token_refused", grant_type="refresh_token")
            if field(e, "error") == "invalid_grant" and (e.exchange is None or e.exchange not in seen)]
    return sorted(out, key=lambda e: e.seq)


def single_redemption_per_rt(*, id: str, requirements: Sequence[str]) -> Check:
    """Each refresh token is redeemed at the AS at most once, across all replicas (the AS's own view)."""

    @check(id, requirements, title="each refresh token redeemed once across replicas")
    def fn(ctx: CheckContext) -> Verdict:
        reds = _redemptions(ctx)
        if not reds:
            return FAIL("no replica ever redeemed the refresh token, so the scenario proved nothing "
                        "(the replicas never refreshed after their access token was revoked)")
        groups: dict[Any, list[Any]] = {}
        for e in reds:
            groups.setdefault(field(e, "presented") or field(e, "refresh_token"), []).append(e)
        dup = {k: v for k, v in groups.items() if len(v) > 1}
        if dup:
            rt, es = max(dup.items(), key=lambda kv: len(kv[1]))
            actors = sorted({str(_request_actor(ctx, e)) for e in es})
            return FAIL(f"refresh token {rt} was redeemed {len(es)} times (by {', '.join(actors)}): the replicas "
                        f"do not share a cross-process refresh lock, or do not re-read the store after taking it",
                        es)
        return PASS(f"{len(reds)} refresh redemption(s), each of a different refresh token", reds)

    return fn


def _request_actor(ctx: CheckContext, event: Any) -> Any:
    """The actor of the request an AS event belongs to (events carry the exchange id of their request)."""
    if event.actor:
        return event.actor
    req = next((e for e in ctx.q.requests("token") if e.exchange == event.exchange and event.exchange), None)
    return req.actor if req is not None else "?"


def no_authorize_after_harness(do: str, *, id: str, requirements: Sequence[str], why: str) -> Check:
    """No replica went to /authorize after the harness action ``do`` (the credentials were never dead)."""

    @check(id, requirements, title=f"no interactive login after {do}")
    def fn(ctx: CheckContext) -> Verdict:
        mark = ctx.q.harness(do).first()
        if mark is None:
            return SKIP(f"the harness never ran {do}")
        later = list(ctx.q.after(mark).requests("authorize"))
        if later:
            return FAIL(f"{describe(later[0])}: a replica went back to interactive login after {do}; {why}",
                        [mark, *later], [e.seq for e in later])
        return PASS(f"no /authorize after {do}", [mark])

    return fn


def callback_completed_on_other_replica(*, id: str, requirements: Sequence[str]) -> Check:
    """Every code issued at /authorize is exchanged, once, by the replica the callback was routed to, with
    the client_id the code was issued to and without a token error."""

    @check(id, requirements, title="the callback completes the flow on another replica")
    def fn(ctx: CheckContext) -> Verdict:
        issued = list(ctx.q.of("code_issued"))
        if not issued:
            return FAIL("no authorization code was ever issued: no replica started an interactive flow")
        exchanges = {field(e, "code"): e for e in ctx.q.code_requests()}
        refused = list(ctx.q.of("token_refused", grant_type="authorization_code"))
        for code_ev in issued:
            code = field(code_ev, "code")
            authz = next((e for e in ctx.q.before(code_ev).requests("authorize")
                          if e.exchange == code_ev.exchange), None)
            initiator = authz.actor if authz is not None else code_ev.actor
            req = exchanges.get(code)
            if req is None:
                return FAIL(f"code {code} (#{code_ev.seq}, flow started by {initiator}) was never exchanged: the "
                            f"replica that received the callback did not know its state (flow state kept in "
                            f"process memory?)", [e for e in (authz, code_ev) if e is not None],
                            [code_ev.seq])
            if req.actor == initiator:
                return SKIP(f"the callback for code {code} was not routed to another replica (the harness could "
                            f"not drive this client's callbacks through the replica inbox)", [code_ev, req])
            cid = field(req, "client_id") or req.client_id
            if code_ev.client_id and cid and cid != code_ev.client_id:
                return FAIL(f"code {code} issued to {code_ev.client_id} was exchanged on {req.actor} as {cid}",
                            [code_ev, req])
        if refused:
            return FAIL(f"{describe(refused[0])}: a code exchange was refused ({field(refused[0], 'error')}): the "
                        f"replica that received the callback used the wrong client or verifier", refused)
        return PASS(f"{len(issued)} code(s), each exchanged by the replica that received the callback, with its "
                    f"flow's client and verifier", issued)

    return fn
