"""Short, human labels for journal entries: 'POST /token grant=refresh_token rt=abcd1234…', '400 invalid_grant'.

Everything here returns plain text; escaping is the renderer's job.
"""

from __future__ import annotations

import json
from typing import Any

from .redact import redact_value

#: Endpoints served by the resource server; everything else is the authorization server's.
RS_ENDPOINTS = frozenset({"mcp", "prm", "resource"})
#: Events the harness itself causes; drawn across all lanes rather than on a server.
HARNESS_EVENTS = frozenset({"clock_advanced", "knobs_changed", "gate_released", "harness", "restart",
                            "client_restarted", "note"})
#: Events that usually mean trouble; drawn in amber even when not highlighted.
ALARM_EVENTS = frozenset({"reuse_detected", "family_revoked", "code_replayed",
                          "refresh_reused", "client_expired", "token_revoked", "fault_injected"})
RS_EVENTS = frozenset({"token_rejected", "step_up_challenge"})

_SHORT_KEYS = {
    "grant_type": "grant", "refresh_token": "rt", "access_token": "at", "code": "code",
    "client_id": "client", "state": "state", "scope": "scope", "resource": "resource", "error": "error",
    "reason": "reason", "family": "family", "code_verifier": "verifier",
}
_GRANTS = {"authorization_code": "authorization_code", "refresh_token": "refresh_token"}


def clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


def params_of(data: dict[str, Any]) -> dict[str, Any]:
    """Request parameters wherever the journal put them (form, query, params, body, or top level)."""
    merged: dict[str, Any] = {}
    for key in ("query", "params", "form", "body", "json"):
        v = data.get(key)
        if isinstance(v, dict):
            merged.update(v)
    for k, v in data.items():
        if k not in merged and not isinstance(v, dict | list):
            merged[k] = v
    return merged


def lane_of(entry: dict[str, Any]) -> str:
    """'AS', 'RS' or 'harness' for the server side of an entry."""
    kind = str(entry.get("kind") or "")
    if kind in HARNESS_EVENTS:
        return "harness"
    endpoint = str(entry.get("endpoint") or "")
    if endpoint:
        return "RS" if endpoint in RS_ENDPOINTS else "AS"
    if kind in RS_EVENTS:
        return "RS"
    path = str((entry.get("data") or {}).get("path") or "")
    if path.startswith("/mcp") or "oauth-protected-resource" in path:
        return "RS"
    return "AS"


def _path(entry: dict[str, Any], data: dict[str, Any]) -> str:
    path = data.get("path") or data.get("url")
    if path:
        path = str(path)
        if "://" in path:
            path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
        return path.split("?", 1)[0]
    ep = entry.get("endpoint")
    return f"/{ep}" if ep else "/"


def _tok(v: Any) -> str:
    return str(redact_value(v))


def request_label(entry: dict[str, Any]) -> str:
    data = entry.get("data") or {}
    p = params_of(data)
    method = str(data.get("method") or data.get("http_method") or ("GET" if entry.get("endpoint") in (
        "authorize", "as_metadata", "oidc_metadata", "prm", "jwks") else "POST")).upper()
    parts = [method, _path(entry, data)]
    body = data.get("body") if isinstance(data.get("body"), dict) else {}
    rpc = p.get("rpc") or p.get("rpc_method") or body.get("method")
    if rpc:
        parts.append(str(rpc))
    rpc_params = body.get("params") if isinstance(body.get("params"), dict) else {}
    tool = (p.get("tool") or rpc_params.get("name")) if rpc else None
    if tool:
        parts.append(str(tool))
    grant = p.get("grant_type")
    if grant:
        parts.append(f"grant={_GRANTS.get(str(grant), grant)}")
    for key in ("code", "refresh_token"):
        if p.get(key):
            parts.append(f"{_SHORT_KEYS[key]}={_tok(p[key])}")
    bearer = p.get("access_token") or p.get("bearer") or p.get("authorization")
    if bearer:
        b = str(bearer)
        b = b[7:] if b.lower().startswith("bearer ") else b
        parts.append(f"at={_tok(b)}")
    if entry.get("endpoint") == "authorize" and p.get("state"):
        parts.append(f"state={clip(str(p['state']), 10)}")
    if entry.get("endpoint") == "register" and p.get("client_name"):
        parts.append(f"name={clip(str(p['client_name']), 16)}")
    return " ".join(parts)


def response_label(entry: dict[str, Any]) -> str:
    data = entry.get("data") or {}
    p = params_of(data)
    status = data.get("status") or data.get("status_code") or ""
    parts = [str(status)] if status != "" else []
    err = p.get("error")
    if err:
        parts.append(str(err))
    else:
        for key in ("access_token", "refresh_token", "code", "client_id"):
            if p.get(key):
                parts.append(f"{_SHORT_KEYS[key]}={_tok(p[key]) if key != 'client_id' else clip(str(p[key]), 12)}")
        if p.get("location"):
            parts.append(f"→ {clip(str(p['location']), 28)}")
    if p.get("www_authenticate") and not err:
        parts.append("WWW-Authenticate")
    if not parts:
        parts.append("response")
    return " ".join(parts)


def event_label(entry: dict[str, Any]) -> str:
    data = entry.get("data") or {}
    parts = [str(entry.get("kind") or "event")]
    fam = entry.get("family") or data.get("family")
    for key in ("refresh_token", "code", "access_token"):
        if data.get(key):
            parts.append(f"{_SHORT_KEYS[key]}={_tok(data[key])}")
            break
    if fam:
        parts.append(f"family={clip(str(fam), 10)}")
    for key in ("reason", "error", "seconds", "gate"):
        if data.get(key) not in (None, ""):
            parts.append(f"{_SHORT_KEYS.get(key, key)}={clip(str(data[key]), 24)}")
    return " ".join(parts)


def label_of(entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    if kind == "request":
        return request_label(entry)
    if kind == "response":
        return response_label(entry)
    return event_label(entry)


def detail_of(entry: dict[str, Any], limit: int = 600) -> str:
    """A compact one-line dump for tooltips and the evidence table."""
    keep = {k: entry.get(k) for k in ("seq", "kind", "endpoint", "actor", "client_id", "flow", "family", "exchange")
            if entry.get(k) not in (None, "")}
    keep["data"] = entry.get("data") or {}
    try:
        text = json.dumps(keep, ensure_ascii=False, sort_keys=False, default=str)
    except (TypeError, ValueError):
        text = str(keep)
    return clip(text, limit)
