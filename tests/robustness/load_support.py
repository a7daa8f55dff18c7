"""Concurrent OAuth flows and refresh storms against one mock server, then a consistency audit.

Shared by ``tests/robustness/test_load.py`` (20 flows / 100 refreshes, in CI) and ``bench/load.py`` (200
flows / 1,000 refreshes). Every request carries a unique ``x-harness-actor``, so what each client saw can
be matched with what the journal recorded.

Phase 1, ``flows``: each flow registers a client, authorizes (PKCE S256) and redeems its code TWICE at
once: exactly one redemption may succeed. Phase 2, ``refreshes``: the refresh tokens of all families are
each presented ``refreshes // flows`` times at once, under rotation with ``reuse_policy=revoke_family``:
exactly one presentation per token rotates, every other one is refused (reuse, or the family is gone).

The audit (:func:`audit`) returns a list of problems; empty means consistent:
  * the journal's seq is contiguous from 1, and every ``request`` has exactly one ``response`` (same
    exchange), and their number is the number of HTTP requests sent;
  * the status each client saw is the status journaled for its exchange;
  * every code was issued once and redeemed at most once (journal and client side agree);
  * every refresh request has exactly one outcome: ``refresh_rotated`` (200) or ``token_refused`` (400,
    with or without ``reuse_detected``); every presented refresh token rotated exactly once;
  * no ``internal_error``; every family with a detected reuse is revoked in the AS state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from mock_as.journal import ACTOR_HEADER, redact
from mock_as.knobs import Knobs
from mock_as.server import MockServer

REDIRECT = "http://127.0.0.1:9/cb"
LOAD_KNOBS = Knobs(rotate_refresh_tokens=True, reuse_policy="revoke_family")


@dataclass
class LoadRun:
    flows: int
    copies: int
    seen: dict[str, int] = field(default_factory=dict)  # actor -> HTTP status the client saw
    requests_sent: int = 0
    transport_errors: list[str] = field(default_factory=list)
    code_wins: dict[int, int] = field(default_factory=dict)  # flow -> how many of its 2 redemptions got 200
    refresh_tokens: dict[int, str] = field(default_factory=dict)  # flow -> the RT its code gave
    refresh_wins: dict[int, int] = field(default_factory=dict)  # flow -> how many presentations got 200
    client_ids: dict[int, str] = field(default_factory=dict)  # flow -> its registered client
    outcomes: Counter[str] = field(default_factory=Counter)  # rotated / reuse / refused / unaccounted
    flow_seconds: float = 0.0
    refresh_seconds: float = 0.0


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def _send(http: httpx.AsyncClient, run: LoadRun, actor: str, method: str, url: str,
                **kw: Any) -> httpx.Response | None:
    run.requests_sent += 1
    try:
        r = await http.request(method, url, headers={ACTOR_HEADER: actor, **kw.pop("headers", {})}, **kw)
    except httpx.HTTPError as exc:
        run.transport_errors.append(f"{actor}: {type(exc).__name__}: {exc}")
        return None
    run.seen[actor] = r.status_code
    return r


async def _flow(http: httpx.AsyncClient, run: LoadRun, meta: dict[str, Any], resource: str, i: int) -> None:
    r = await _send(http, run, f"reg-{i}", "POST", meta["registration_endpoint"], json={
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "application_type": "native",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "client_name": f"load-{i}"})
    if r is None or r.status_code not in (200, 201):
        return
    client_id = r.json()["client_id"]
    verifier, challenge = _pkce()
    r = await _send(http, run, f"auth-{i}", "GET", meta["authorization_endpoint"], params={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": f"flow-{i}",
        "code_challenge": challenge, "code_challenge_method": "S256", "resource": resource})
    if r is None or r.status_code != 302:
        return
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id,
            "code_verifier": verifier, "resource": resource}
    both = await asyncio.gather(*(_send(http, run, f"code-{i}-{k}", "POST", meta["token_endpoint"], data=form)
                                  for k in "ab"))
    wins = [x for x in both if x is not None and x.status_code == 200]
    run.code_wins[i] = len(wins)
    if wins:
        run.refresh_tokens[i] = wins[0].json()["refresh_token"]
        run.client_ids[i] = client_id


async def _refresh_storm(http: httpx.AsyncClient, run: LoadRun, meta: dict[str, Any], resource: str) -> None:
    client_ids = run.client_ids

    async def one(i: int, k: int) -> httpx.Response | None:
        return await _send(http, run, f"rt-{i}-{k}", "POST", meta["token_endpoint"], data={
            "grant_type": "refresh_token", "refresh_token": run.refresh_tokens[i], "client_id": client_ids[i],
            "resource": resource})

    jobs = [(i, k) for i in sorted(run.refresh_tokens) for k in range(run.copies)]
    results = await asyncio.gather(*(one(i, k) for i, k in jobs))
    wins: Counter[int] = Counter()
    for (i, _), r in zip(jobs, results, strict=True):
        if r is not None and r.status_code == 200:
            wins[i] += 1
    run.refresh_wins = {i: wins[i] for i in run.refresh_tokens}


async def drive(srv: MockServer, flows: int, refreshes: int, connections: int | None = None) -> LoadRun:
    run = LoadRun(flows=flows, copies=max(1, refreshes // max(1, flows)))
    limits = httpx.Limits(max_connections=connections or max(flows * 2, refreshes), max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=60, limits=limits, follow_redirects=False) as http:
        meta = (await http.get(srv.urls.as_origin + "/.well-known/oauth-authorization-server")).json()
        run.requests_sent += 1
        resource = srv.mcp_url
        t0 = time.perf_counter()
        await asyncio.gather(*(_flow(http, run, meta, resource, i) for i in range(flows)))
        run.flow_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        await _refresh_storm(http, run, meta, resource)
        run.refresh_seconds = time.perf_counter() - t0
    return run


def audit(srv: MockServer, run: LoadRun) -> list[str]:
    problems: list[str] = []
    entries = srv.journal.entries()
    seqs = [e.seq for e in entries]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"journal seq not contiguous: {len(seqs)} entries, last {seqs[-1] if seqs else None}")
    requests = [e for e in entries if e.kind == "request"]
    responses = [e for e in entries if e.kind == "response"]
    req_by_ex = Counter(e.exchange for e in requests)
    resp_by_ex = Counter(e.exchange for e in responses)
    if any(n != 1 for n in req_by_ex.values()) or any(n != 1 for n in resp_by_ex.values()):
        problems.append("an exchange has more than one request or response entry")
    if set(req_by_ex) != set(resp_by_ex):
        problems.append(f"unpaired exchanges: {sorted(set(req_by_ex) ^ set(resp_by_ex))[:10]}")
    if len(requests) != run.requests_sent:
        problems.append(f"{run.requests_sent} requests sent, {len(requests)} journaled")
    if run.transport_errors:
        problems.append(f"{len(run.transport_errors)} transport errors, e.g. {run.transport_errors[:3]}")
    journaled_status = {e.actor: e.data.get("status") for e in responses if e.actor}
    mismatched = [a for a, s in run.seen.items() if journaled_status.get(a) != s]
    if mismatched:
        problems.append(f"{len(mismatched)} clients saw another status than the journal's, e.g. "
                        f"{[(a, run.seen[a], journaled_status.get(a)) for a in mismatched[:5]]}")
    if internal := [e for e in entries if e.kind == "internal_error"]:
        problems.append(f"{len(internal)} internal_error entries, e.g. {internal[0].data.get('error')}")

    # codes: issued once, redeemed at most once, one winner per flow
    issued = Counter(e.data.get("code") for e in entries if e.kind == "code_issued")
    redeemed = Counter(e.data.get("code") for e in entries if e.kind == "code_redeemed")
    if len(issued) != run.flows or any(n != 1 for n in issued.values()):
        problems.append(f"{sum(issued.values())} codes issued for {run.flows} flows ({len(issued)} distinct prefixes)")
    if twice := [c for c, n in redeemed.items() if n > 1]:
        problems.append(f"{len(twice)} codes redeemed more than once: {twice[:5]}")
    if bad := {i: n for i, n in run.code_wins.items() if n != 1}:
        problems.append(f"flows whose two concurrent redemptions did not give exactly one token: {bad}")
    if len(run.code_wins) != run.flows:
        problems.append(f"only {len(run.code_wins)} of {run.flows} flows got as far as the code exchange")

    # refresh: one outcome per request, one rotation per presented token
    by_ex: dict[int | None, list[str]] = defaultdict(list)
    for e in entries:
        if e.kind in ("refresh_rotated", "token_refused", "reuse_detected", "refresh_redeemed", "grace_reissued",
                      "grace_returned_current"):
            by_ex[e.exchange].append(e.kind)
    refresh_reqs = [e for e in requests if e.data.get("grant_type") == "refresh_token"]
    if len(refresh_reqs) != len(run.refresh_tokens) * run.copies:
        problems.append(f"{len(refresh_reqs)} refresh requests journaled, "
                        f"{len(run.refresh_tokens) * run.copies} sent")
    status_by_ex = {e.exchange: e.data.get("status") for e in responses}
    outcomes: Counter[str] = Counter()
    for req in refresh_reqs:
        kinds = sorted(by_ex.get(req.exchange, []))
        status = status_by_ex.get(req.exchange)
        if kinds == ["refresh_rotated"] and status == 200:
            outcomes["rotated"] += 1
        elif kinds == ["reuse_detected", "token_refused"] and status == 400:
            outcomes["reuse"] += 1
        elif kinds == ["token_refused"] and status == 400:
            outcomes["refused"] += 1
        else:
            outcomes["unaccounted"] += 1
            if outcomes["unaccounted"] <= 5:
                problems.append(f"refresh exchange {req.exchange} ({req.actor}): events {kinds}, status {status}")
    run.outcomes = outcomes
    rotated_per_rt = Counter(e.data.get("presented") for e in entries if e.kind == "refresh_rotated")
    for i, rt in run.refresh_tokens.items():
        if rotated_per_rt.get(redact(rt), 0) != 1 or run.refresh_wins.get(i) != 1:
            problems.append(f"flow {i}: its refresh token rotated {rotated_per_rt.get(redact(rt), 0)} times "
                            f"(journal), {run.refresh_wins.get(i)} presentations got 200 (clients)")
            break
    reused_families = {e.family for e in entries if e.kind == "reuse_detected"}
    state = srv.state
    with state.lock:
        alive = [f for f in reused_families if not state.families[f].revoked]
    if alive:
        problems.append(f"{len(alive)} families with a detected reuse are not revoked")
    return problems


def run_load(srv: MockServer, flows: int, refreshes: int) -> tuple[LoadRun, list[str]]:
    run = asyncio.run(drive(srv, flows, refreshes))
    return run, audit(srv, run)


def describe(run: LoadRun) -> str:
    o = run.outcomes
    return (f"{run.flows} concurrent flows in {run.flow_seconds:.2f} s, "
            f"{len(run.refresh_tokens) * run.copies} concurrent refreshes ({run.copies} per token) in "
            f"{run.refresh_seconds:.2f} s: rotated {o['rotated']}, reuse {o['reuse']}, refused {o['refused']}, "
            f"unaccounted {o['unaccounted']}; {run.requests_sent} requests")
