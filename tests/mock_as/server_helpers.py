"""Helpers for the server tests: a by-hand OAuth flow against a running MockServer (httpx, no client code).

Shared by tests/mock_as/test_server_*, test_resource_*, test_layouts_*, test_admin_*: the tests of the runner,
the resource server and the admin API need real tokens from the mock's own AS.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from mock_as.server import MockServer

REDIRECT = "http://127.0.0.1:9/cb"

#: One client for the tests: a new httpx.Client costs ~100 ms (its SSL context), a request ~1 ms.
HTTP = httpx.Client(timeout=10)


def metadata(client: httpx.Client, srv: MockServer) -> dict[str, Any]:
    """The AS metadata, wherever the layout puts it (the PRM names the issuer)."""
    from mock_as.discovery import plan_for

    plan = plan_for(srv.knobs)
    path = (plan.as_metadata_paths or plan.oidc_paths)[0]
    r = client.get(srv.urls.as_origin + path)
    r.raise_for_status()
    return r.json()


def register(client: httpx.Client, meta: dict[str, Any], **extra: Any) -> str:
    body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "application_type": "native",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "client_name": "server-tests", **extra}
    r = client.post(meta["registration_endpoint"], json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()["client_id"]


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(client: httpx.Client, meta: dict[str, Any], client_id: str, resource: str,
              scope: str | None = None, state: str = "s1") -> tuple[str, str]:
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": state,
              "code_challenge": challenge, "code_challenge_method": "S256", "resource": resource}
    if scope:
        params["scope"] = scope
    r = client.get(meta["authorization_endpoint"], params=params, follow_redirects=False)
    assert r.status_code in (302, 303), r.text
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["state"] == [state], q
    return q["code"][0], verifier


def tokens(srv: MockServer, scope: str | None = None, client: httpx.Client | None = None,
           resource: str | None = None) -> dict[str, Any]:
    """Register, authorize and exchange the code: the token response (plus ``client_id``)."""
    c = client or HTTP
    meta = metadata(c, srv)
    client_id = register(c, meta)
    res = resource or srv.mcp_url
    code, verifier = authorize(c, meta, client_id, res, scope)
    r = c.post(meta["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id,
        "code_verifier": verifier, "resource": res})
    assert r.status_code == 200, r.text
    return {**r.json(), "client_id": client_id, "token_endpoint": meta["token_endpoint"]}


def refresh(client: httpx.Client, tok: dict[str, Any], srv: MockServer) -> httpx.Response:
    return client.post(tok["token_endpoint"], data={"grant_type": "refresh_token", "client_id": tok["client_id"],
                                                    "refresh_token": tok["refresh_token"], "resource": srv.mcp_url})


def rpc(method: str, params: dict[str, Any] | None = None, id: int = 1) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def initialize(client: httpx.Client, srv: MockServer, token: str | None, **headers: str) -> httpx.Response:
    hdrs = {**MCP_HEADERS, **headers}
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    return client.post(srv.mcp_url, headers=hdrs, json=rpc("initialize", {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}))


def call_tool(client: httpx.Client, srv: MockServer, token: str, name: str = "echo",
              arguments: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    """A tools/call in a fresh session (initialize first); returns the tools/call response."""
    r = initialize(client, srv, token, **headers)
    if r.status_code != 200:
        return r
    sid = r.headers.get("mcp-session-id")
    hdrs = {**MCP_HEADERS, "authorization": f"Bearer {token}", "mcp-protocol-version": "2025-06-18", **headers}
    if sid:
        hdrs["mcp-session-id"] = sid
    client.post(srv.mcp_url, headers=hdrs, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    return client.post(srv.mcp_url, headers=hdrs,
                       json=rpc("tools/call", {"name": name, "arguments": arguments or {"text": "hi"}}, id=2))
