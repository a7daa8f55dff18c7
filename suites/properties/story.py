"""Counterexamples as a numbered story a client maintainer can read without knowing hypothesis.

Each machine step is one numbered line ("3. replica-1/tab-2 calls echo"), followed by what the mock
answered meanwhile, one line per HTTP exchange when its answer arrived ("replica-1/tab-2 refreshes with
rt_ab12… → 400 invalid_grant (reuse detected, family revoked)"), requests parked at a gate, and faults.
Discovery and MCP session housekeeping (metadata, initialize, tools/list, the SSE stream) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mock_as.journal import Entry

_QUIET_MCP = {"notifications/initialized", "tools/list"}


@dataclass
class Step:
    """One rule the machine ran: its plain-words description and the journal seqs it covered."""

    number: int
    text: str
    first_seq: int
    last_seq: int = 0
    notes: list[str] = field(default_factory=list)  # what the client side reported (call outcomes)


def _p(e: Entry) -> dict[str, Any]:
    p = e.data.get("params")
    return p if isinstance(p, dict) else {}


def _events_by_exchange(entries: list[Entry]) -> dict[int, list[Entry]]:
    out: dict[int, list[Entry]] = {}
    for e in entries:
        if e.exchange is not None and e.kind not in ("request", "response", "gate_held", "gate_released"):
            out.setdefault(e.exchange, []).append(e)
    return out


def describe_request(req: Entry) -> str | None:
    """What the client asked, in words; None for housekeeping not worth a line."""
    p, who = _p(req), req.actor or "someone"
    ep = req.endpoint
    if ep == "mcp":
        if req.data.get("method") != "POST":
            return None
        m = p.get("method")
        if m == "tools/call":
            return f"{who} calls {p.get('tool') or 'a tool'}" + (f" with {req.data['bearer']}"
                                                                 if req.data.get("bearer") else "")
        if m == "initialize":
            return f"{who} opens an MCP session" + ("" if req.data.get("bearer") else " (no token yet)")
        return None
    if ep == "token":
        gt = p.get("grant_type")
        if gt == "refresh_token":
            return f"{who} refreshes with {p.get('refresh_token')}"
        if gt == "authorization_code":
            return f"{who} exchanges code {p.get('code')} as client {_short(p.get('client_id'))}"
        return f"{who} calls the token endpoint ({gt})"
    if ep == "register":
        return f"{who} registers a new client"
    if ep == "authorize":
        return f"{who} opens the consent page /authorize for client {_short(p.get('client_id'))} (state " \
               f"{_short(p.get('state'))})"
    if ep == "revoke":
        return f"{who} revokes a token"
    return None


def describe_answer(req: Entry, resp: Entry | None, events: list[Entry]) -> str:
    """The mock's answer, with the domain events that explain it."""
    if resp is None:
        return "(no answer yet)"
    d = resp.data
    status = d.get("status")
    if status is None:
        return "connection dropped"
    parts = [str(status)]
    if d.get("error"):
        parts.append(str(d["error"]))
    why: list[str] = []
    for ev in events:
        k = ev.kind
        if k == "token_rejected":
            why.append(f"token {ev.data.get('reason')}")
        elif k == "refresh_rotated":
            why.append(f"rotated to {ev.data.get('new')}")
        elif k == "refresh_redeemed":
            why.append("no new refresh token in the answer" if ev.data.get("omitted") else "same refresh token")
        elif k in ("grace_reissued", "grace_returned_current"):
            why.append(f"reuse inside the {ev.data.get('grace_s')} s grace window")
        elif k == "reuse_detected":
            why.append("reuse detected")
        elif k == "family_revoked":
            why.append("family revoked")
        elif k == "code_replayed":
            why.append("code already used")
        elif k == "fault_injected":
            why.append("injected by the harness")
        elif k == "client_registered":
            why.append(f"client_id {_short(ev.client_id)}")
        elif k == "code_issued":
            why.append(f"code {ev.data.get('code')}")
        elif k == "token_issued" and req.endpoint == "token" and ev.data.get("grant_type") == "authorization_code":
            why.append(f"tokens issued, refresh token {ev.data.get('refresh_token')}")
    redirect = d.get("redirect") or {}
    if redirect.get("error"):
        why.append(f"redirect with error={redirect['error']}")
    desc = d.get("error_description")
    if desc and not why:
        why.append(str(desc)[:80])
    return " ".join(parts) + (f" ({', '.join(why)})" if why else "")


def render(steps: list[Step], entries: list[Entry]) -> list[str]:
    """The numbered story: each step, then the exchanges whose answers (or gate holds) fell in it."""
    requests = {e.exchange: e for e in entries if e.kind == "request" and e.exchange is not None}
    events = _events_by_exchange(entries)
    answered: set[int] = set()
    lines: list[str] = []
    for st in steps:
        lines.append(f"{st.number}. {st.text}")
        for e in entries:
            if not (st.first_seq < e.seq <= (st.last_seq or st.first_seq)):
                continue
            if e.kind == "harness" and e.data.get("note"):
                lines.append(f"     harness: {e.data['note']}")
            if e.kind == "gate_held" and e.exchange in requests:
                what = describe_request(requests[e.exchange])
                if what:
                    lines.append(f"     {what} → held at gate {e.data.get('gate')}")
            if e.kind == "response" and e.exchange in requests and e.exchange not in answered:
                req = requests[e.exchange]
                what = describe_request(req)
                if what is None:
                    continue
                answered.add(e.exchange)
                lines.append(f"     {what} → {describe_answer(req, e, events.get(e.exchange, []))}")
        for n in st.notes:
            lines.append(f"     ⇒ {n}")
    pending = [r for x, r in requests.items() if x not in answered and describe_request(r)
               and not any(e.kind == "response" and e.exchange == x for e in entries)]
    for r in pending:
        lines.append(f"   (never answered: {describe_request(r)})")
    return lines


def _short(v: Any, n: int = 8) -> str:
    s = str(v or "?")
    return s if len(s) <= n + 1 else s[:n] + "…"
