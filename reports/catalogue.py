"""Short titles for requirement ids, used for matrix row labels and tooltips.

Catalogue ids come from the bug catalogue (C01-C26); spec ids from the spec checklist (per revision).
Unknown ids are rendered as-is: this table only adds a title.
"""

from __future__ import annotations

import re

CATALOGUE: dict[str, str] = {
    "C01": "New registration per flow, then client_id mismatch",
    "C02": "PKCE verifier overwritten by a second initiation",
    "C03": "Stale or unknown callback hijacks the live flow",
    "C04": "The same code exchanged twice",
    "C05": "Flow state lost between authorize and callback",
    "C06": "error= callback ignored",
    "C07": "Flow storm",
    "C08": "Concurrent refresh in one process",
    "C09": "Concurrent refresh across processes or replicas",
    "C10": "The loser wipes the winner",
    "C11": "Lock lease shorter than the refresh, or a lost response",
    "C12": "Rotated refresh token not persisted",
    "C13": "Refresh token erased when the response omits it",
    "C14": "Mid-session 401 goes straight to interactive re-auth",
    "C15": "Expiry not restored after restart",
    "C16": "Refresh sent to the wrong token endpoint after restart",
    "C17": "Stale in-memory token after an out-of-band refresh",
    "C18": "Lock held across a long-lived stream",
    "C19": "Refresh loop when the resource server rejects every token",
    "C20": "Transient errors treated as revocation",
    "C21": "Stale dynamic registration never replaced, or a pre-registered client wiped",
    "C22": "Loopback redirect port changes",
    "C23": "Discovery fallbacks",
    "C24": "resource parameter on refresh",
    "C25": "Step-up on 403 insufficient_scope",
    "C26": "Authorization-server migration",
}

SPEC: dict[str, str] = {
    "PRM-1": "Parse WWW-Authenticate on 401, use resource_metadata",
    "PRM-2": "PRM well-known fallbacks (path, then root)",
    "PRM-3": "PRM resource must match the server URL",
    "ASM-1": "AS metadata via RFC 8414",
    "ASM-2": "AS metadata discovery order",
    "ASM-3": "Metadata issuer equals the issuer used",
    "REG-1": "Dynamic client registration SHOULD be supported",
    "REG-2": "Registration priority: pre-registered, CIMD, DCR",
    "REG-3": "application_type; credentials keyed by issuer",
    "PKCE-1": "PKCE is mandatory, with S256",
    "PKCE-2": "Refuse without code_challenge_methods_supported",
    "RES-1": "resource (RFC 8707) in authorize and token requests",
    "TOK-1": "Bearer header on every MCP request, never the query",
    "SCO-1": "Scope selection from challenge or PRM",
    "SCO-2": "Step up on 403 insufficient_scope, bounded",
    "SCO-3": "Step-up requests the union of scopes",
    "RT-1": "Refresh tokens: confidential, never assumed",
    "ISS-1": "RFC 9207 iss checked exactly",
    "STATE-1": "Send state and verify it on the callback",
    "RED-1": "Redirect URIs registered; localhost or HTTPS",
    "LEG-1": "2025-03-26 legacy metadata fallbacks",
}

_CAT_RE = re.compile(r"^C\d{2}$")
_SPEC_RE = re.compile(r"^MCP-(?P<rev>[0-9-]+):(?P<id>.+)$")


def kind_of(req: str) -> str:
    """'catalogue', 'spec', 'rfc' or 'other': the matrix groups rows by this."""
    if _CAT_RE.match(req):
        return "catalogue"
    if _SPEC_RE.match(req):
        return "spec"
    if req.upper().startswith("RFC"):
        return "rfc"
    return "other"


def title_of(req: str) -> str:
    if req in CATALOGUE:
        return CATALOGUE[req]
    m = _SPEC_RE.match(req)
    if m:
        return SPEC.get(m.group("id"), "")
    return ""


def mutant_catalogue_id(client: str) -> str | None:
    """'mutant:C08-no-refresh-singleflight' -> 'C08'; None for anything that is not a mutant."""
    if not client.startswith("mutant:"):
        return None
    cid = client.split(":", 1)[1].split("-", 1)[0].strip()
    return cid or None
