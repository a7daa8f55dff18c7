"""Checks of the registration/ area: which client a request used, and whether it was registered for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, SKIP, Check, CheckContext, Verdict

INVALID_CLIENT_KINDS = ("client_expired", "token_refused", "authorize_refused", "fault_injected")


def _invalid_client(e: Any) -> bool:
    if e.kind == "client_expired":
        return True
    return e.kind in INVALID_CLIENT_KINDS and field(e, "error") == "invalid_client"


def client_of(e: Any) -> str | None:
    """The client_id a request used (form, query, JSON or HTTP Basic)."""
    return field(e, "client_id") or e.client_id


def reregisters_once(*, id: str, requirements: Sequence[str]) -> Check:
    """After the AS first answers invalid_client for a dynamically registered client, exactly one /register."""
    @check(id, requirements, title="a dead dynamic registration is replaced once")
    def fn(ctx: CheckContext) -> Verdict:
        dead = ctx.q.where(_invalid_client).first()
        if dead is None:
            return SKIP("the client never used its expired registration, so re-registration was not exercised")
        later = list(ctx.q.after(dead).requests("register"))
        if not later:
            used = list(ctx.q.after(dead).requests().where(lambda e: client_of(e) == dead.client_id))
            return FAIL(f"the AS said invalid_client for {dead.client_id} (#{dead.seq}) but the client never "
                        f"registered again; it kept using the dead client_id", [dead, *used[:5]],
                        [dead.seq, *[e.seq for e in used[:5]]])
        if len(later) > 1:
            return FAIL(f"{len(later)} registrations after one invalid_client (#{dead.seq}); re-register once",
                        [dead, *later], [e.seq for e in later])
        return PASS(f"one new registration (#{later[0].seq}) after invalid_client (#{dead.seq})", [dead, later[0]])

    return fn


def preregistered_kept(client_id: str, *, id: str, requirements: Sequence[str]) -> Check:
    """A pre-registered client is never replaced: no /register, every /authorize and /token uses its id."""
    @check(id, requirements, title="pre-registered credentials are never wiped")
    def fn(ctx: CheckContext) -> Verdict:
        regs = list(ctx.q.requests("register"))
        if regs:
            return FAIL(f"the client dropped its pre-registered client {client_id} and registered a new one "
                        f"(#{regs[0].seq}); pre-registered credentials must never be deleted", regs, [regs[0].seq])
        used = list(ctx.q.requests("authorize")) + list(ctx.q.requests("token"))
        if not used:
            return FAIL("the client sent no /authorize or /token request at all")
        other = [e for e in used if client_of(e) != client_id]
        if other:
            return FAIL(f"request #{other[0].seq} used client_id {client_of(other[0])!r} instead of the "
                        f"pre-registered {client_id}", other, [other[0].seq])
        return PASS(f"{len(used)} /authorize and /token requests, all as the pre-registered {client_id}", used[:10])

    return fn


def _loopback_match(registered: str, requested: str) -> bool:
    a, b = urlsplit(registered), urlsplit(requested)
    return (a.scheme == b.scheme and a.hostname == b.hostname and a.path == b.path
            and (a.hostname or "") in ("127.0.0.1", "localhost", "::1"))


def redirect_registered(*, id: str, requirements: Sequence[str], loopback_any_port: bool = False) -> Check:
    """Every /authorize's redirect_uri was registered for its client_id (exact, or any loopback port)."""
    @check(id, requirements, title="each /authorize uses a redirect URI registered for its client")
    def fn(ctx: CheckContext) -> Verdict:
        registered: dict[str, list[str]] = {}
        for e in ctx.q.of("client_registered"):
            registered.setdefault(e.client_id, []).extend(field(e, "redirect_uris") or [])
        authz = list(ctx.q.requests("authorize"))
        if not authz:
            return FAIL("the client sent no /authorize request")
        for req in authz:
            cid, uri = client_of(req), field(req, "redirect_uri")
            if cid not in registered:
                continue  # not a dynamically registered client: nothing to compare with
            ok = uri in registered[cid] or (loopback_any_port and any(_loopback_match(r, uri)
                                                                      for r in registered[cid]))
            if not ok:
                return FAIL(f"/authorize #{req.seq} sent redirect_uri {uri} for client {cid}, which was registered "
                            f"with {registered[cid]}; register again for a new redirect URI", [req], [req.seq])
        return PASS(f"{len(authz)} /authorize request(s), each with a redirect URI registered for its client", authz)

    return fn


def register_body(pred_name: str, problem: Any, *, id: str, requirements: Sequence[str],
                  severity: str = "must") -> Check:
    """Every /register request body passes ``problem(params) -> str | None``; FAIL when none was sent."""
    @check(id, requirements, severity=severity, title=pred_name)
    def fn(ctx: CheckContext) -> Verdict:
        regs = list(ctx.q.requests("register"))
        if not regs:
            return FAIL("the client sent no dynamic registration request")
        for req in regs:
            msg = problem((req.data or {}).get("params") or {})
            if msg:
                return FAIL(f"registration #{req.seq}: {msg}", [req], [req.seq])
        return PASS(f"{len(regs)} registration request(s): {pred_name}", regs)

    return fn
