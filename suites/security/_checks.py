"""Checks of the security/ area: scopes on step-up, and which authorization server saw which credentials."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, SKIP, Check, CheckContext, Verdict


def scopes(value: Any) -> set[str]:
    return set(str(value or "").split())


def step_up_union(*, id: str, requirements: Sequence[str]) -> Check:
    """After a 403 insufficient_scope, the next /authorize asks for the old scopes AND the challenged one."""
    @check(id, requirements, title="step-up asks for the union of old and challenged scopes")
    def fn(ctx: CheckContext) -> Verdict:
        challenge = ctx.q.of("step_up_challenge").first()
        if challenge is None:
            return SKIP("the resource server never asked for more scope, so step-up was not exercised")
        before = ctx.q.before(challenge).requests("authorize").last()
        after = ctx.q.after(challenge).requests("authorize").first()
        if before is None:
            return FAIL("no /authorize before the step-up challenge: the client held a token it never asked for")
        if after is None:
            return FAIL(f"the resource server answered 403 insufficient_scope (#{challenge.seq}) and the client "
                        f"never re-authorized", [challenge], [challenge.seq])
        want = scopes(field(before, "scope")) | scopes(field(challenge, "scope"))
        got = scopes(field(after, "scope"))
        missing = sorted(want - got)
        if missing:
            return FAIL(f"the step-up /authorize (#{after.seq}) asked for {' '.join(sorted(got)) or 'no scope'} and "
                        f"dropped {' '.join(missing)}; ask for the union of the scopes held and the challenged one",
                        [before, challenge, after], [after.seq])
        return PASS(f"the step-up /authorize (#{after.seq}) asked for {' '.join(sorted(got))}",
                    [before, challenge, after])

    return fn


def step_up_bounded(limit: int, *, id: str, requirements: Sequence[str]) -> Check:
    """After the first insufficient_scope challenge, at most ``limit`` new /authorize requests."""
    @check(id, requirements, title=f"at most {limit} step-up authorizations")
    def fn(ctx: CheckContext) -> Verdict:
        challenge = ctx.q.of("step_up_challenge").first()
        if challenge is None:
            return SKIP("the resource server never asked for more scope")
        later = list(ctx.q.after(challenge).requests("authorize"))
        if not later:
            return FAIL("the client never stepped up after 403 insufficient_scope", [challenge], [challenge.seq])
        if len(later) > limit:
            return FAIL(f"{len(later)} authorization requests after the first insufficient_scope; step-up must "
                        f"be retried a bounded number of times (at most {limit})", later, [e.seq for e in later])
        return PASS(f"{len(later)} step-up authorization(s) (at most {limit})", later)

    return fn


# -- AS migration (C26) ----------------------------------------------------------------------------

def _paths(ctx: CheckContext) -> dict[Any, str]:
    return {e.exchange: str((e.data or {}).get("path") or "") for e in ctx.q.requests() if e.exchange is not None}


def _at(prefix: str, p: str) -> bool:
    return p == prefix or p.startswith(prefix + "/")


def as1_credentials(ctx: CheckContext, as2: str) -> tuple[set[str], set[str]]:
    """(client_ids registered at AS1, refresh-token prefixes AS1 issued): events from exchanges not under ``as2``."""
    paths = _paths(ctx)
    clients = {e.client_id for e in ctx.q.of("client_registered") if not _at(as2, paths.get(e.exchange, ""))}
    rts = {field(e, "refresh_token") for e in ctx.q.of("token_issued")
           if not _at(as2, paths.get(e.exchange, "")) and field(e, "refresh_token")}
    return {c for c in clients if c}, rts


def no_as1_credentials_at_as2(as2: str, *, id: str, requirements: Sequence[str]) -> Check:
    """No request to the second AS carries a client_id registered at, or a refresh token issued by, the first."""
    @check(id, requirements, title="AS1's client credentials and tokens never reach AS2")
    def fn(ctx: CheckContext) -> Verdict:
        clients, rts = as1_credentials(ctx, as2)
        if not clients:
            return FAIL("the client never registered at the first authorization server")
        at2 = [e for e in ctx.q.requests() if _at(as2, str((e.data or {}).get("path") or ""))]
        if not at2:
            return FAIL(f"the client never talked to the new authorization server ({as2}) after the migration")
        for e in at2:
            cid = field(e, "client_id") or e.client_id
            if cid in clients:
                return FAIL(f"request #{e.seq} to the new AS ({(e.data or {}).get('path')}) carries client_id {cid}, "
                            f"registered at the old AS; credentials are keyed by issuer", [e], [e.seq])
            rt = field(e, "refresh_token")
            if rt and rt in rts:
                return FAIL(f"request #{e.seq} sends the old AS's refresh token {rt} to the new AS "
                            f"({(e.data or {}).get('path')}); tokens must never go to another server", [e], [e.seq])
        return PASS(f"{len(at2)} request(s) to the new AS, none with the old AS's client_id or tokens", at2[:10])

    return fn


def registered_with(as2: str, *, id: str, requirements: Sequence[str]) -> Check:
    """After the migration the client registered at ``as2`` and redeemed a code there."""
    @check(id, requirements, title="the client registers with the new AS")
    def fn(ctx: CheckContext) -> Verdict:
        mark = ctx.q.harness("set_knobs").first()
        if mark is None:
            return SKIP("the harness never switched the authorization server")
        later = ctx.q.after(mark)
        reg = later.requests("register").where(lambda e: _at(as2, str((e.data or {}).get("path") or ""))).first()
        if reg is None:
            return FAIL(f"the protected resource now names a new AS ({as2}) but the client never registered "
                        f"with it", [mark], [mark.seq])
        code = later.code_requests().where(lambda e: _at(as2, str((e.data or {}).get("path") or ""))).first()
        if code is None:
            return FAIL("the client registered with the new AS but never redeemed a code there", [mark, reg])
        return PASS(f"registered at the new AS (#{reg.seq}) and redeemed a code there (#{code.seq})",
                    [mark, reg, code])

    return fn
