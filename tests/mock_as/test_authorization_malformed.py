"""Property: garbage to any AS endpoint gives a 4xx RFC-shaped JSON error (or an error redirect), never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mock_as.conftest import REDIRECT, ASHarness

ENDPOINTS = ["/authorize", "/token", "/register", "/revoke", "/introspect"]
KEYS = ["grant_type", "code", "client_id", "client_secret", "redirect_uri", "response_type", "code_challenge",
        "code_challenge_method", "code_verifier", "state", "scope", "resource", "refresh_token", "token",
        "token_type_hint", "redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types",
        "application_type", "jwks", "jwks_uri", "contacts", "client_name", "client_uri", "logo_uri"]
PLAUSIBLE = ["authorization_code", "refresh_token", "code", "S256", "plain", "none", "client_secret_basic",
             "native", REDIRECT, "http://127.0.0.1:1/x\"\\", "https://example.com/cimd", "' OR 1=1", ""]

text = st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=60))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=12)
pairs = st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=10), text), max_size=10)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from(ENDPOINTS))
    method = draw(st.sampled_from(["GET", "POST", "POST", "POST", "PUT"]))
    kind = draw(st.sampled_from(["form", "json", "json_object", "bytes", "query"]))
    headers: dict[str, str] = {}
    content: bytes = b""
    params: list[tuple[str, str]] = []
    if kind == "form":
        content = urlencode(draw(pairs)).encode()
        headers["content-type"] = draw(st.sampled_from(["application/x-www-form-urlencoded", "text/plain"]))
    elif kind == "json":
        content = json.dumps(draw(json_values)).encode()
        headers["content-type"] = "application/json"
    elif kind == "json_object":
        content = json.dumps(draw(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8))).encode()
        headers["content-type"] = "application/json"
    elif kind == "bytes":
        content = draw(st.binary(max_size=80))
        headers["content-type"] = draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json",
                                                        "multipart/form-data", "x/y"]))
    else:
        params = draw(pairs)
    if draw(st.booleans()):
        headers["authorization"] = draw(st.sampled_from(["Basic !!!", "Basic /w==", "Basic Zm9vOmJhcg==",
                                                         "Bearer x", "Basic"]))
    return {"method": method, "url": path, "headers": headers, "content": content, "params": params}


def _assert_rfc_shaped(r: Any) -> None:
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code == 302:
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert "error" in query or "code" in query
    elif r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/json"), r.text
        body = r.json()
        assert isinstance(body.get("error"), str) and body["error"], body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(req=requests())
def test_garbage_never_gives_5xx(as_server: ASHarness, req: dict[str, Any]) -> None:
    r = as_server.http.request(req["method"], req["url"], headers=req["headers"], content=req["content"],
                               params=req["params"])
    _assert_rfc_shaped(r)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(KEYS), value=text)
def test_one_bad_field_in_a_real_flow(as_server: ASHarness, field: str, value: str) -> None:
    """A valid client and code with one field replaced: still an RFC-shaped answer."""
    as_server.ctx.state.reset()
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    authorize = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s",
                 "code_challenge": "x" * 43, "code_challenge_method": "S256", field: value}
    _assert_rfc_shaped(as_server.http.get("/authorize", params=authorize))
    form = {"grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT,
            "client_id": client_id, "code_verifier": flow.verifier, field: value}
    _assert_rfc_shaped(as_server.http.post("/token", data=form))
    reg = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", field: value}
    _assert_rfc_shaped(as_server.http.post("/register", json=reg))
