"""A realistic, deterministic results.json for tests, the benchmark and trying the report out.

    python -m reports sample -o sample.json --clients 8 --checks 120 --seed 1

Clients: the reference client (passes), two SDKs with their known bugs (mcp-python-sdk: C14, ts-sdk: C08),
one mutant per catalogue id (each fails the checks citing its own id, except C18 which survives so the
report has something to show), then `cmd:` clients with sparse random failures. Failing checks carry the
scenario journal and the seqs of the offending entries.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .catalogue import CATALOGUE, mutant_catalogue_id

REVISIONS = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]
_REV_RANK = {r: i for i, r in enumerate(REVISIONS)}

# catalogue id -> (scenario id, journal theme, rfc requirement)
_CAT_SCENARIOS: dict[str, tuple[str, str, str]] = {
    "C01": ("flows/two_tabs_register_once", "register_race", "RFC7591-3"),
    "C02": ("flows/second_initiation_keeps_verifier", "code_flow", "RFC7636-4.5"),
    "C03": ("callbacks/stale_state_ignored", "code_flow", "RFC6749-10.12"),
    "C04": ("callbacks/duplicate_delivery_single_exchange", "code_replay", "RFC6749-4.1.2"),
    "C05": ("replicas/callback_on_other_replica", "code_flow", "RFC6749-4.1"),
    "C06": ("callbacks/error_access_denied", "code_flow", "RFC6749-4.1.2.1"),
    "C07": ("flows/burst_single_interactive_flow", "code_flow", "RFC6749-4.1"),
    "C08": ("refresh/mid_session_401_burst", "refresh_burst", "RFC6749-6"),
    "C09": ("replicas/shared_store_refresh", "refresh_burst", "RFC6749-6"),
    "C10": ("refresh/loser_keeps_winner", "refresh_burst", "RFC6749-6"),
    "C11": ("refresh/lost_response_grace", "refresh_burst", "RFC6819-5.2.2.3"),
    "C12": ("refresh/restart_between_rotations", "refresh_single", "RFC6749-6"),
    "C13": ("refresh/response_without_refresh_token", "refresh_single", "RFC6749-6"),
    "C14": ("refresh/revoked_access_token_refreshes_first", "reauth", "RFC6750-3.1"),
    "C15": ("refresh/expiry_survives_restart", "refresh_single", "RFC6749-5.1"),
    "C16": ("refresh/token_endpoint_after_restart", "refresh_single", "RFC8414-3"),
    "C17": ("refresh/out_of_band_refresh_adopted", "refresh_single", "RFC6749-6"),
    "C18": ("refresh/stream_does_not_hold_lock", "refresh_burst", "RFC6749-6"),
    "C19": ("refresh/rs_rejects_everything_bounded", "reauth", "RFC6750-3.1"),
    "C20": ("refresh/transient_503_keeps_tokens", "refresh_single", "RFC6749-5.2"),
    "C21": ("registration/stale_client_reregisters", "register_race", "RFC7591-3.2.2"),
    "C22": ("registration/loopback_port_change", "register_race", "RFC8252-7.3"),
    "C23": ("discovery/path_issuer_fallbacks", "discovery", "RFC8414-3.1"),
    "C24": ("refresh/resource_on_refresh", "refresh_single", "RFC8707-2"),
    "C25": ("security/step_up_insufficient_scope", "step_up", "RFC6750-3.1"),
    "C26": ("discovery/as_migration_reregisters", "discovery", "RFC8414-3.3"),
}

# spec id -> (scenario id, since revision, journal theme, severity)
_SPEC_SCENARIOS: dict[str, tuple[str, str, str, str]] = {
    "PRM-1": ("discovery/prm_from_www_authenticate", "2025-06-18", "discovery", "critical"),
    "PRM-2": ("discovery/prm_well_known_fallback", "2025-11-25", "discovery", "major"),
    "PRM-3": ("discovery/prm_resource_mismatch", "2026-07-28", "discovery", "critical"),
    "ASM-1": ("discovery/as_metadata_rfc8414", "2025-06-18", "discovery", "critical"),
    "ASM-2": ("discovery/as_metadata_order", "2025-11-25", "discovery", "major"),
    "ASM-3": ("discovery/issuer_mismatch_refused", "2026-07-28", "discovery", "critical"),
    "REG-1": ("registration/dcr_supported", "2025-06-18", "register_race", "minor"),
    "REG-2": ("registration/priority_order", "2025-11-25", "register_race", "major"),
    "REG-3": ("registration/keyed_by_issuer", "2026-07-28", "register_race", "major"),
    "PKCE-1": ("pkce/s256_always", "2025-06-18", "code_flow", "critical"),
    "PKCE-2": ("pkce/refuse_without_methods", "2025-11-25", "discovery", "critical"),
    "RES-1": ("security/resource_parameter", "2025-06-18", "code_flow", "major"),
    "TOK-1": ("security/bearer_header_only", "2025-06-18", "refresh_single", "critical"),
    "SCO-1": ("security/scope_selection", "2025-11-25", "step_up", "minor"),
    "SCO-2": ("security/step_up_bounded", "2025-11-25", "step_up", "major"),
    "SCO-3": ("security/step_up_union", "2026-07-28", "step_up", "minor"),
    "RT-1": ("refresh/rt_not_assumed", "2026-07-28", "refresh_single", "major"),
    "ISS-1": ("security/iss_exact_match", "2026-07-28", "code_flow", "critical"),
    "STATE-1": ("security/state_verified", "2025-06-18", "code_flow", "critical"),
    "RED-1": ("security/redirect_uri_loopback", "2025-06-18", "register_race", "major"),
    "LEG-1": ("discovery/legacy_fallbacks", "2025-03-26", "discovery", "minor"),
}

_SDK_BUGS = {"mcp-python-sdk": "C14", "ts-sdk": "C08"}
SURVIVOR = "C18"


def mutant_name(cid: str) -> str:
    words = re.sub(r"[^a-z0-9 ]+", " ", CATALOGUE[cid].lower()).split()
    return f"mutant:{cid}-" + "-".join([w for w in words if w not in {"the", "a", "or", "then"}][:4])


def client_names(n: int) -> list[str]:
    base = ["reference", "mcp-python-sdk", "ts-sdk", *(mutant_name(c) for c in CATALOGUE)]
    names = base[:n]
    k = 1
    while len(names) < n:
        names.append(f"cmd:./examples/client-{k} --store sqlite")
        k += 1
    return names


def _templates() -> list[dict[str, Any]]:
    """Every (scenario, check) the sample knows, most interesting first."""
    current, others = [], []
    for rev in ["2025-11-25", "2025-06-18", "2026-07-28", "2025-03-26"]:
        bucket = current if rev == "2025-11-25" else others
        for cid, (scenario, _theme, rfc) in _CAT_SCENARIOS.items():
            slug = scenario.split("/", 1)[1].replace("_", "-")
            bucket.append({"scenario": scenario, "check": f"{cid}.{slug}", "requirements": [cid, rfc],
                           "revision": rev, "severity": "critical" if cid in ("C08", "C09", "C10", "C14")
                           else "major", "own": cid})
            bucket.append({"scenario": scenario, "check": "TOK-1.bearer-on-every-request",
                           "requirements": [f"MCP-{rev}:TOK-1"], "revision": rev, "severity": "critical",
                           "own": None})
        for sid, (scenario, since, _theme, sev) in _SPEC_SCENARIOS.items():
            bucket.append({"scenario": scenario, "check": f"{sid}.{scenario.split('/', 1)[1].replace('_', '-')}",
                           "requirements": [f"MCP-{rev}:{sid}"], "revision": rev, "severity": sev,
                           "own": None, "since": since})
    return current + others


def _theme_of(scenario: str) -> str:
    for sc, theme, _ in _CAT_SCENARIOS.values():
        if sc == scenario:
            return theme
    for sc, _since, theme, _sev in _SPEC_SCENARIOS.values():
        if sc == scenario:
            return theme
    return "code_flow"


class _J:
    """A tiny journal builder that looks like mock_as.journal output."""

    def __init__(self, rng: random.Random, t0: float) -> None:
        self.rng = rng
        self.t = t0
        self.entries: list[dict[str, Any]] = []
        self.exchange = 0
        self.hl: list[int] = []

    def _add(self, kind: str, *, hot: bool = False, **fields: Any) -> int:
        self.t += self.rng.uniform(0.001, 0.03)
        data = fields.pop("data", {})
        e = {"seq": len(self.entries) + 1, "ts": round(self.t, 4), "wall": round(self.t, 4), "kind": kind,
             "endpoint": fields.pop("endpoint", None), "actor": fields.pop("actor", None),
             "client_id": fields.pop("client_id", "cl-7f3a"), "flow": fields.pop("flow", None),
             "family": fields.pop("family", None), "exchange": fields.pop("exchange", None), "data": data}
        self.entries.append(e)
        if hot:
            self.hl.append(e["seq"])
        return e["seq"]

    def req(self, actor: str, endpoint: str, method: str, path: str, hot: bool = False, **params: Any) -> int:
        self.exchange += 1
        self._add("request", hot=hot, endpoint=endpoint, actor=actor, exchange=self.exchange,
                  data={"method": method, "path": path, "params": params})
        return self.exchange

    def resp(self, ex: int, endpoint: str, status: int, hot: bool = False, **body: Any) -> None:
        self._add("response", hot=hot, endpoint=endpoint, exchange=ex, data={"status": status, "body": body})

    def event(self, kind: str, endpoint: str, hot: bool = False, family: str | None = None, **data: Any) -> None:
        self._add(kind, hot=hot, endpoint=endpoint, exchange=self.exchange, family=family, data=data)

    def mcp_ok(self, actor: str, at: str, n: int = 1) -> None:
        for _ in range(n):
            ex = self.req(actor, "mcp", "POST", "/mcp", rpc="tools/call", tool="echo", authorization=f"Bearer {at}")
            self.resp(ex, "mcp", 200)


def _tok(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("abcdef0123456789") for _ in range(8 - len(prefix))) + "…"


def make_journal(theme: str, buggy: bool, rng: random.Random, padding: int = 0) -> tuple[list[dict[str, Any]], list[int]]:
    j = _J(rng, 1000.0 + rng.random() * 50)
    at1, at2, rt1, rt2 = _tok(rng, "eyJ"), _tok(rng, "eyJ"), _tok(rng, "rt"), _tok(rng, "rt")
    fam = "fam-" + "".join(rng.choice("0123456789") for _ in range(4))
    j.mcp_ok("tab-1", at1, n=1 + padding // 2)
    if theme in ("refresh_burst", "refresh_single"):
        tabs = ["tab-1", "tab-2", "tab-3"] if theme == "refresh_burst" else ["tab-1"]
        for t in tabs:
            ex = j.req(t, "mcp", "POST", "/mcp", rpc="tools/call", tool="echo", authorization=f"Bearer {at1}")
            j.event("token_rejected", "mcp", reason="expired")
            j.resp(ex, "mcp", 401, error="invalid_token", www_authenticate='Bearer resource_metadata="…"')
        ex = j.req("tab-1", "token", "POST", "/token", grant_type="refresh_token", refresh_token=rt1,
                   resource="http://127.0.0.1:8765/mcp")
        j.event("refresh_rotated", "token", family=fam, refresh_token=rt1)
        j.resp(ex, "token", 200, access_token=at2, refresh_token=rt2, token_type="Bearer", expires_in=60)
        if buggy and len(tabs) > 1:
            ex = j.req("tab-2", "token", "POST", "/token", hot=True, grant_type="refresh_token", refresh_token=rt1)
            j.event("reuse_detected", "token", hot=True, family=fam, refresh_token=rt1)
            j.event("family_revoked", "token", hot=True, family=fam)
            j.resp(ex, "token", 400, hot=True, error="invalid_grant")
            ex = j.req("tab-1", "mcp", "POST", "/mcp", rpc="tools/call", tool="echo", authorization=f"Bearer {at2}")
            j.event("token_rejected", "mcp", reason="revoked")
            j.resp(ex, "mcp", 401, error="invalid_token")
            ex = j.req("tab-1", "authorize", "GET", "/authorize", hot=True, state="st-9c1e", response_type="code")
            j.resp(ex, "authorize", 302, location="http://127.0.0.1:33418/callback?code=…")
        elif buggy:
            ex = j.req("tab-1", "token", "POST", "/token", hot=True, grant_type="refresh_token", refresh_token=rt1)
            j.event("reuse_detected", "token", hot=True, family=fam, refresh_token=rt1)
            j.resp(ex, "token", 400, hot=True, error="invalid_grant")
        else:
            for t in tabs:
                j.mcp_ok(t, at2)
    elif theme == "reauth":
        ex = j.req("tab-1", "mcp", "POST", "/mcp", rpc="tools/list", authorization=f"Bearer {at1}")
        j.event("token_rejected", "mcp", reason="revoked")
        j.resp(ex, "mcp", 401, error="invalid_token")
        if buggy:
            ex = j.req("tab-1", "authorize", "GET", "/authorize", hot=True, state="st-41aa", response_type="code",
                       code_challenge_method="S256")
            j.event("code_issued", "authorize", code=_tok(rng, "c"))
            j.resp(ex, "authorize", 302, location="http://127.0.0.1:33418/callback?code=…")
        else:
            ex = j.req("tab-1", "token", "POST", "/token", grant_type="refresh_token", refresh_token=rt1)
            j.event("refresh_rotated", "token", family=fam, refresh_token=rt1)
            j.resp(ex, "token", 200, access_token=at2, refresh_token=rt2)
            j.mcp_ok("tab-1", at2)
    elif theme in ("register_race", "code_flow", "code_replay"):
        ex = j.req("tab-1", "register", "POST", "/register", client_name="mcp-client",
                   redirect_uris=["http://127.0.0.1:33418/callback"])
        j.event("client_registered", "register", client_id="cl-7f3a")
        j.resp(ex, "register", 201, client_id="cl-7f3a")
        if theme == "register_race":
            ex = j.req("tab-2", "register", "POST", "/register", hot=buggy, client_name="mcp-client")
            j.resp(ex, "register", 201, hot=buggy, client_id="cl-b210" if buggy else "cl-7f3a")
        ex = j.req("tab-1", "authorize", "GET", "/authorize", state="st-5d02", code_challenge_method="S256",
                   response_type="code", client_id="cl-7f3a")
        code = _tok(rng, "c")
        j.event("code_issued", "authorize", code=code)
        j.resp(ex, "authorize", 302, location="http://127.0.0.1:33418/callback?code=…&state=st-5d02")
        ex = j.req("tab-1", "token", "POST", "/token", grant_type="authorization_code", code=code,
                   client_id="cl-b210" if buggy and theme == "register_race" else "cl-7f3a")
        if buggy and theme == "register_race":
            j.resp(ex, "token", 401, hot=True, error="invalid_client")
        else:
            j.event("code_redeemed", "token", code=code, family=fam)
            j.resp(ex, "token", 200, access_token=at1, refresh_token=rt1)
            if buggy:
                ex = j.req("tab-2", "token", "POST", "/token", hot=True, grant_type="authorization_code", code=code)
                j.event("code_replayed", "token", hot=True, code=code)
                j.resp(ex, "token", 400, hot=True, error="invalid_grant")
            j.mcp_ok("tab-1", at1)
    elif theme == "step_up":
        ex = j.req("tab-1", "mcp", "POST", "/mcp", rpc="tools/call", tool="add_numbers", authorization=f"Bearer {at1}")
        j.event("step_up_challenge", "mcp", scope="tools:write")
        j.resp(ex, "mcp", 403, error="insufficient_scope")
        for _ in range(3 if buggy else 1):
            ex = j.req("tab-1", "authorize", "GET", "/authorize", hot=buggy, scope="tools:write", state="st-77")
            j.resp(ex, "authorize", 302, location="http://127.0.0.1:33418/callback?code=…")
    else:  # discovery
        ex = j.req("tab-1", "mcp", "POST", "/mcp", rpc="initialize")
        j.resp(ex, "mcp", 401, error="invalid_token", www_authenticate='Bearer resource_metadata="…"')
        ex = j.req("tab-1", "prm", "GET", "/.well-known/oauth-protected-resource/mcp")
        j.resp(ex, "prm", 200)
        ex = j.req("tab-1", "as_metadata", "GET", "/.well-known/oauth-authorization-server/tenant1")
        j.resp(ex, "as_metadata", 404 if buggy else 200)
        if buggy:
            ex = j.req("tab-1", "authorize", "GET", "/authorize", hot=True, state="st-0b", response_type="code")
            j.resp(ex, "authorize", 302, location="http://127.0.0.1:33418/callback?code=…")
    if padding:
        j.mcp_ok("tab-1", at2 if theme.startswith("refresh") else at1, n=padding - padding // 2)
    return j.entries, j.hl


def _message(status: str, tpl: dict[str, Any], client: str) -> str:
    if status == "PASS":
        return "behaved as required"
    if status == "SKIP":
        return f"not applicable in revision {tpl['revision']}" if tpl.get("since") else \
            "client lacks a capability this scenario needs"
    if status == "WARN":
        return "SHOULD not met: registration was skipped and a pre-registered client used"
    if status == "INFO":
        return "observed, not judged"
    own = tpl.get("own")
    if own in ("C08", "C09", "C10", "C18"):
        return "the refresh token was redeemed twice; the AS revoked the family"
    if own == "C14" or tpl["scenario"].endswith("refreshes_first"):
        return "went to /authorize after a 401 without trying the refresh token"
    if own in ("C01", "C21", "C22"):
        return "two /register calls for one (issuer, redirect_uris); the code was redeemed by another client"
    return f"{tpl['check']} failed for {client}"


def _status(client: str, tpl: dict[str, Any], rng: random.Random) -> str:
    since = tpl.get("since")
    if since and _REV_RANK[tpl["revision"]] < _REV_RANK[since]:
        return "SKIP"
    own = tpl.get("own")
    if client == "reference":
        return "INFO" if rng.random() < 0.01 else "PASS"
    if client.startswith("mutant:"):
        cid = mutant_catalogue_id(client)
        if own == cid and cid != SURVIVOR:
            return "FAIL"
        return "SKIP" if rng.random() < 0.02 else "PASS"
    if client in _SDK_BUGS:
        if own == _SDK_BUGS[client] and tpl["revision"] in ("2025-11-25", "2026-07-28"):
            return "FAIL"
        if tpl["check"].startswith("REG-1") and client == "mcp-python-sdk":
            return "WARN"
        return "SKIP" if rng.random() < 0.03 else "PASS"
    r = rng.random()
    return "FAIL" if r < 0.03 else "WARN" if r < 0.06 else "SKIP" if r < 0.1 else "PASS"


def make_sample(n_clients: int = 6, n_checks: int = 80, seed: int = 0) -> dict[str, Any]:
    """A results dict with n_clients clients x n_checks checks each."""
    rng = random.Random(seed)
    clients = client_names(n_clients)
    templates = _templates()
    while len(templates) < n_checks:  # pad with property checks, one per extra slot
        k = len(templates)
        templates.append({"scenario": f"properties/interleavings_{k % 7}", "check": f"PROP.invariant-{k}",
                          "requirements": ["RFC6749-6"], "revision": "2025-11-25", "severity": "minor", "own": None})
    templates = templates[:n_checks]
    started = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    checks = []
    counterexamples = []
    for client in clients:
        rows = []
        for tpl in templates:
            status = _status(client, tpl, rng)
            rows.append({
                "client": client, "scenario": tpl["scenario"], "check": tpl["check"],
                "requirements": list(tpl["requirements"]), "status": status, "revision": tpl["revision"],
                "message": _message(status, tpl, client), "duration_s": round(rng.uniform(0.01, 0.9), 3),
                "severity": tpl["severity"],
            })
        # one journal per scenario run, shared by that run's checks (as the plugin does)
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            runs.setdefault((row["scenario"], row["revision"]), []).append(row)
        for (scenario, _rev), members in runs.items():
            failing = any(m["status"] == "FAIL" for m in members)
            padding = (40 if rng.random() < 0.25 else rng.randint(0, 4)) if failing else 0
            journal, hl = make_journal(_theme_of(scenario), failing, rng, padding=padding)
            for m in members:
                if m["status"] in ("FAIL", "WARN"):
                    m["journal"] = journal
                    m["highlight"] = hl if m["status"] == "FAIL" else []
                    m["evidence"] = [e for e in journal if e["seq"] in hl] or journal[-2:]
                else:
                    m["evidence"] = journal[-2:]
        checks.extend(rows)
        if mutant_catalogue_id(client) in ("C02", "C08", "C09"):
            counterexamples.append({
                "client": client, "machine": "RefreshInterleavings",
                "invariant": "each refresh token is redeemed at most once",
                "message": "refresh token rt3f09… redeemed by tab-1 and tab-2",
                "steps": ["1. tab-1 opens a session and calls echo", "2. the AS expires the access token",
                          "3. tab-1 and tab-2 call echo; both get 401",
                          "4. gate 'token-response' holds tab-1's refresh",
                          "5. tab-2 redeems the same refresh token", "6. release gate 'token-response'"],
            })
    finished = started + timedelta(seconds=sum(c["duration_s"] for c in checks) / 8)
    return {
        "run": {
            "started": started.isoformat(), "finished": finished.isoformat(),
            "versions": {"python": "3.11.7", "mcp": "2.3.0", "harness": "0.1.0"},
            "knobs": {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_s": 0},
            "seed": seed, "clients": clients, "revisions": REVISIONS,
            "command": "pytest suites/ -n auto --client reference --client 'mutant:*' --results results.json",
        },
        "checks": checks,
        "counterexamples": counterexamples,
    }
