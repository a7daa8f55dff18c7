"""The invariants the race machines check over the mock's journal after every step.

Each invariant is a pure function of the journal (plus the run's facts: knobs, which tenant an actor
label belongs to, and the adapter's per-call outcomes). They judge what the mock OBSERVED, so they hold
for any client, whatever its language: a violation names the journal entries that prove it.

Ids, requirements (catalogue ids, so the mutation gate can count a kill) and what each one forbids:

=================================  ===========================  =============================================
id                                 requirements                 forbids
=================================  ===========================  =============================================
``P.single-registration``          C01, RFC7591-3               a 2nd ``/register`` for (issuer, redirect_uris)
``P.code-bound-to-its-flow``       C01, C02, C04, RFC7636-4.6   a code redeemed with another client_id,
                                                                redirect_uri or verifier, or twice
``P.refresh-redeemed-once``        C08, C09, C12, C17, RFC6749  a rotated-out refresh token presented again
                                   -6                           outside the grace window (unless the store
                                                                lost its locks meanwhile)
``P.refresh-before-interactive``   C14, C10, C13, C12, C15      an interactive /authorize while the AS still
                                                                honours a refresh token this tenant was given
``P.single-interactive-flow``      C07, C02                     two outstanding /authorize flows for one
                                                                (tenant, user, server)
``P.tenant-isolation``             C26, TOK-1                   one tenant's token sent by another tenant
``P.calls-end-classified``         C06, C18, C19                a call that hangs or ends in an unclassified
                                                                crash
=================================  ===========================  =============================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mock_as.journal import Entry

#: invariant id -> (requirements, one-line title)
INVARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "P.single-registration": (("C01", "RFC7591-3"),
                              "at most one /register per (issuer, redirect_uris) per store"),
    "P.code-bound-to-its-flow": (("C01", "C02", "C04", "RFC7636-4.6", "RFC6749-4.1.3"),
                                 "every code is redeemed once, with its own flow's client_id, redirect_uri "
                                 "and verifier"),
    "P.refresh-redeemed-once": (("C08", "C09", "C12", "C17", "RFC6749-6"),
                                "no refresh token is redeemed twice outside the grace window"),
    "P.refresh-before-interactive": (("C14", "C10", "C13", "C12", "C15", "RFC6749-6"),
                                     "no interactive /authorize while the AS honours a refresh token the "
                                     "client was given"),
    "P.single-interactive-flow": (("C07", "C02"),
                                  "at most one outstanding interactive flow per (tenant, user, server)"),
    "P.tenant-isolation": (("C26", "TOK-1"), "no token issued for one tenant is sent by another"),
    "P.calls-end-classified": (("C06", "C18", "C19"),
                               "every call ends in success or a classified error; nothing hangs"),
}

#: Error classes that do not count as "classified" (see harness.model.classify_error).
UNCLASSIFIED = ("crash", "hang")


@dataclass
class Violation:
    """One broken invariant: its id, a sentence for a client maintainer, and the proving entries."""

    invariant: str
    message: str
    seqs: list[int] = field(default_factory=list)

    @property
    def requirements(self) -> tuple[str, ...]:
        return INVARIANTS[self.invariant][0]


@dataclass
class CallRecord:
    """What one tool call (or tab opening) ended in, as the driver saw it."""

    label: str  # "replica-1/tab-2 calls echo"
    done: bool
    ok: bool = False
    error: str | None = None  # classified error, e.g. "authorization_failed:invalid_grant"
    detail: str = ""


def _d(e: Entry, key: str) -> Any:
    return e.data.get(key)


def _params(e: Entry) -> dict[str, Any]:
    p = e.data.get("params")
    return p if isinstance(p, dict) else {}


class JournalFacts:
    """Indexes over a journal snapshot that the invariants share (built once per check)."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.requests: dict[int, Entry] = {}
        self.responses: dict[int, Entry] = {}
        self.faulted: set[int] = set()
        for e in entries:
            if e.exchange is None:
                continue
            if e.kind == "request":
                self.requests[e.exchange] = e
            elif e.kind == "response":
                self.responses[e.exchange] = e
            elif e.kind == "fault_injected":
                self.faulted.add(e.exchange)

    def response_to(self, req: Entry) -> Entry | None:
        return self.responses.get(req.exchange) if req.exchange is not None else None


def check_all(entries: list[Entry], *, knobs: Any, tenant_of: Callable[[str | None], str | None],
              calls: Iterable[CallRecord] = ()) -> list[Violation]:
    """Every invariant over the journal so far; an empty list when all hold."""
    facts = JournalFacts(entries)
    out: list[Violation] = []
    out += single_registration(facts)
    out += code_bound_to_its_flow(facts)
    out += refresh_redeemed_once(facts, knobs)
    out += refresh_before_interactive(facts, knobs, tenant_of)
    out += single_interactive_flow(facts, tenant_of)
    out += tenant_isolation(facts, tenant_of)
    out += calls_end_classified(calls)
    return out


# -- the invariants ----------------------------------------------------------------------------------------

def single_registration(f: JournalFacts) -> list[Violation]:
    seen: dict[tuple[str, ...], Entry] = {}
    for e in f.entries:
        if e.kind != "client_registered":
            continue
        key = tuple(sorted(_d(e, "redirect_uris") or []))
        first = seen.get(key)
        if first is None:
            seen[key] = e
            continue
        return [Violation("P.single-registration",
                          f"the client registered twice for the same redirect URIs {list(key)}: "
                          f"client {short(first.client_id)} (#{first.seq}, by {first.actor}) and then "
                          f"client {short(e.client_id)} (#{e.seq}, by {e.actor}); the first registration "
                          f"should have been reused from the store", [first.seq, e.seq])]
    return []


def code_bound_to_its_flow(f: JournalFacts) -> list[Violation]:
    issued: dict[str, Entry] = {}
    out: list[Violation] = []
    for e in f.entries:
        if e.kind == "code_issued" and _d(e, "code"):
            issued[_d(e, "code")] = e
        elif e.kind == "code_replayed":
            first = issued.get(_d(e, "code"))
            out.append(Violation("P.code-bound-to-its-flow",
                                 f"authorization code {_d(e, 'code')} was exchanged a second time (#{e.seq}, "
                                 f"by {e.actor})", [e.seq] + ([first.seq] if first else [])))
        elif e.kind == "request" and e.endpoint == "token":
            p = _params(e)
            if p.get("grant_type") != "authorization_code" or e.exchange in f.faulted:
                continue
            code = p.get("code")
            src = issued.get(code) if isinstance(code, str) else None
            if src is None:
                continue
            if p.get("client_id") and p.get("client_id") != src.client_id:
                out.append(Violation("P.code-bound-to-its-flow",
                                     f"code {code} was issued to client {short(src.client_id)} (#{src.seq}) but "
                                     f"{e.actor} redeemed it as client {short(p.get('client_id'))} (#{e.seq})",
                                     [src.seq, e.seq]))
            if p.get("redirect_uri") != _d(src, "redirect_uri"):
                out.append(Violation("P.code-bound-to-its-flow",
                                     f"code {code} was issued for redirect_uri {_d(src, 'redirect_uri')} but "
                                     f"redeemed with {p.get('redirect_uri')} (#{e.seq})", [src.seq, e.seq]))
            resp = f.response_to(e)
            if resp is not None and _d(resp, "error") == "invalid_grant" \
                    and "challenge" in str(_d(resp, "error_description") or "").lower():
                out.append(Violation("P.code-bound-to-its-flow",
                                     f"code {code} (flow {short(src.flow)}) was redeemed by {e.actor} with a "
                                     f"code_verifier that does not match its own /authorize challenge: the AS "
                                     f"answered invalid_grant \"{_d(resp, 'error_description')}\" (#{resp.seq})",
                                     [src.seq, e.seq, resp.seq]))
    return out[:1]


def refresh_redeemed_once(f: JournalFacts, knobs: Any) -> list[Violation]:
    """Excused: a second redemption after the store lost its locks (``locks_lost``) while the first one
    was under way; no client can keep a lock its store dropped."""
    first_redeemed: dict[str, int] = {}
    locks_lost: list[int] = []
    for e in f.entries:
        if e.kind == "request" and e.endpoint == "token" and _params(e).get("grant_type") == "refresh_token":
            first_redeemed.setdefault(str(_params(e).get("refresh_token")), e.seq)
        elif e.kind == "harness" and _d(e, "do") == "locks_lost":
            locks_lost.append(e.seq)
        elif e.kind == "reuse_detected":
            first = first_redeemed.get(str(_d(e, "presented")))
            if first is not None and any(first < lost < e.seq for lost in locks_lost):
                continue
            what = "revoked the whole token family" if _d(e, "policy") == "revoke_family" else "refused it"
            return [Violation("P.refresh-redeemed-once",
                              f"refresh token {_d(e, 'presented')} was presented again by {e.actor} (#{e.seq}) "
                              f"{_elapsed(e)} after it had been rotated out (grace window "
                              f"{knobs.grace_s:g} s); the AS detected the reuse and {what}", [e.seq])]
    return []


def _elapsed(e: Entry) -> str:
    el = _d(e, "elapsed_s")
    return f"{el:g} s" if isinstance(el, int | float) else "some time"


@dataclass
class _Family:
    tenant: str | None
    current: str | None
    issued_ts: float
    revoked: bool = False


def refresh_before_interactive(f: JournalFacts, knobs: Any,
                               tenant_of: Callable[[str | None], str | None]) -> list[Violation]:
    """An interactive /authorize is a violation while some family of that tenant has a current refresh
    token that the AS would honour (not revoked, not expired, never refused) and that was handed out."""
    families: dict[str, _Family] = {}
    failed: set[str] = set()
    ttl = float(knobs.refresh_token_ttl or 0)
    for e in f.entries:
        if e.kind == "token_issued" and e.family:
            if _d(e, "grant_type") == "authorization_code":
                families[e.family] = _Family(tenant_of(e.actor), _d(e, "refresh_token"), e.ts)
            elif (fam := families.get(e.family)) is not None and _d(e, "refresh_token") \
                    and _d(e, "refresh_token") != fam.current:
                fam.current, fam.issued_ts = _d(e, "refresh_token"), e.ts
        elif e.kind == "family_revoked" and e.family in families:
            families[e.family].revoked = True
        elif e.kind == "response" and e.endpoint == "token" and _d(e, "error") in ("invalid_grant", "invalid_client"):
            req = f.requests.get(e.exchange or -1)
            p = _params(req) if req is not None else {}
            if p.get("grant_type") == "refresh_token" and p.get("refresh_token"):
                failed.add(p["refresh_token"])
        elif e.kind == "request" and e.endpoint == "authorize":
            tenant = tenant_of(e.actor)
            for fid, fam in families.items():
                if fam.tenant != tenant or fam.revoked or not fam.current or fam.current in failed:
                    continue
                if ttl > 0 and e.ts >= fam.issued_ts + ttl:
                    continue
                return [Violation("P.refresh-before-interactive",
                                  f"{e.actor} opened an interactive /authorize (#{e.seq}) while the AS still "
                                  f"honoured refresh token {fam.current} of family {fid}, which this tenant was "
                                  f"given and never had refused: the client should have refreshed instead "
                                  f"(or it lost or never used its refresh token)", [e.seq])]
    return []


def single_interactive_flow(f: JournalFacts, tenant_of: Callable[[str | None], str | None]) -> list[Violation]:
    """Outstanding: from the /authorize request until its error redirect, or the response to the exchange
    of its code."""
    open_flows: dict[str | None, dict[str, Entry]] = {}
    code_flow: dict[str, tuple[str | None, str]] = {}
    for e in f.entries:
        if e.kind == "request" and e.endpoint == "authorize":
            tenant = tenant_of(e.actor)
            mine = open_flows.setdefault(tenant, {})
            if mine:
                other = next(iter(mine.values()))
                return [Violation("P.single-interactive-flow",
                                  f"a second interactive flow (state {short(e.flow)}, #{e.seq}) was opened for "
                                  f"tenant {tenant} while flow {short(other.flow)} (#{other.seq}) was still "
                                  f"outstanding: one user sees two browser tabs", [other.seq, e.seq])]
            mine[e.flow or f"#{e.seq}"] = e
        elif e.kind == "response" and e.endpoint == "authorize":
            req = f.requests.get(e.exchange or -1)
            if req is None:
                continue
            tenant, key = tenant_of(req.actor), req.flow or f"#{req.seq}"
            code = (_d(e, "redirect") or {}).get("code")
            if code:
                code_flow[code] = (tenant, key)
            else:
                open_flows.get(tenant, {}).pop(key, None)
        elif e.kind == "response" and e.endpoint == "token":
            req = f.requests.get(e.exchange or -1)
            code = _params(req).get("code") if req is not None else None
            if isinstance(code, str) and code in code_flow:
                tenant, key = code_flow.pop(code)
                open_flows.get(tenant, {}).pop(key, None)
    return []


def tenant_isolation(f: JournalFacts, tenant_of: Callable[[str | None], str | None]) -> list[Violation]:
    fam_tenant: dict[str, str | None] = {}
    token_fam: dict[str, str] = {}
    for e in f.entries:
        if e.kind == "token_issued" and e.family:
            if _d(e, "grant_type") == "authorization_code":
                fam_tenant[e.family] = tenant_of(e.actor)
            for k in ("access_token", "refresh_token"):
                if _d(e, k):
                    token_fam[_d(e, k)] = e.family
        elif e.kind == "request" and e.endpoint in ("mcp", "token"):
            sent = e.data.get("bearer") if e.endpoint == "mcp" else _params(e).get("refresh_token")
            fam = token_fam.get(sent) if isinstance(sent, str) else None
            if fam is None or fam not in fam_tenant:
                continue
            owner, sender = fam_tenant[fam], tenant_of(e.actor)
            if sender is not None and owner is not None and sender != owner:
                return [Violation("P.tenant-isolation",
                                  f"{e.actor} (tenant {sender}) sent token {sent} that was issued to tenant "
                                  f"{owner} (#{e.seq})", [e.seq])]
    return []


def calls_end_classified(calls: Iterable[CallRecord]) -> list[Violation]:
    for c in calls:
        if not c.done:
            return [Violation("P.calls-end-classified",
                              f"{c.label} never finished, although every gate was open (a hang)")]
        if not c.ok and (c.error is None or c.error in UNCLASSIFIED):
            return [Violation("P.calls-end-classified",
                              f"{c.label} ended in an unclassified error ({c.error}): {c.detail[:200]}")]
    return []


def short(value: str | None, n: int = 8) -> str:
    """A token or id shortened for humans (journal values are already 8-char prefixes)."""
    if not value:
        return "?"
    return value if len(value) <= n + 1 else value[:n] + "…"
