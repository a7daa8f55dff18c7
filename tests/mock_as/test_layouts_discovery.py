"""Each discovery layout serves its documents where the spec revision under test expects them, and only there."""

from __future__ import annotations

import pytest

from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.mock_as.server_helpers import HTTP, MCP_HEADERS, call_tool, metadata, rpc, tokens

AS_WK = "/.well-known/oauth-authorization-server"
OIDC_WK = "/.well-known/openid-configuration"
PRM_WK = "/.well-known/oauth-protected-resource"


def _status(url: str) -> int:
    return HTTP.get(url).status_code


def _challenge(srv: MockServer) -> str:
    r = HTTP.post(srv.mcp_url, headers=MCP_HEADERS, json=rpc("initialize", {}))
    assert r.status_code == 401
    return r.headers["www-authenticate"]


def test_default_layout() -> None:
    with MockServer() as srv:
        o = srv.urls.origin
        meta = HTTP.get(o + AS_WK).json()
        assert meta["issuer"] == o and meta["token_endpoint"] == o + "/token"
        assert meta["authorization_endpoint"] == o + "/authorize" and meta["registration_endpoint"] == o + "/register"
        assert HTTP.get(o + OIDC_WK).json()["issuer"] == o
        prm = HTTP.get(o + PRM_WK + "/mcp").json()
        assert prm["resource"] == srv.mcp_url and prm["authorization_servers"] == [o]
        assert prm["scopes_supported"] == ["mcp:read", "mcp:write"]
        assert _status(o + PRM_WK) == 404  # path-aware only
        assert _challenge(srv) == f'Bearer resource_metadata="{o}{PRM_WK}/mcp", scope="mcp:read mcp:write"'
        assert call_tool(HTTP, srv, tokens(srv)["access_token"]).status_code == 200


def test_as_separate_origin() -> None:
    with MockServer(knobs=Knobs(layout="as_separate_origin")) as srv:
        u = srv.urls
        assert u.as_origin != u.origin and u.issuer == u.as_origin
        meta = HTTP.get(u.as_origin + AS_WK).json()
        assert meta["issuer"] == u.as_origin and meta["token_endpoint"] == u.as_origin + "/token"
        assert _status(u.origin + AS_WK) == 404 and _status(u.origin + "/token") == 404
        assert _status(u.as_origin + "/mcp") == 404 and _status(u.as_origin + PRM_WK + "/mcp") == 404
        prm = HTTP.get(u.prm).json()
        assert u.prm == u.origin + PRM_WK + "/mcp" and prm["authorization_servers"] == [u.as_origin]
        tok = tokens(srv)
        assert call_tool(HTTP, srv, tok["access_token"]).status_code == 200
        assert tok["token_endpoint"].startswith(u.as_origin)
        # both origins journal into one journal, and the admin API answers on both
        assert {e.endpoint for e in srv.journal.entries("request")} >= {"as_metadata", "register", "token", "mcp"}
        assert HTTP.get(u.as_origin + "/_admin/knobs").json()["layout"] == "as_separate_origin"


def test_issuer_path() -> None:
    with MockServer(knobs=Knobs(layout="issuer_path")) as srv:
        o = srv.urls.origin
        assert srv.urls.issuer == o + "/tenant1"
        meta = HTTP.get(o + AS_WK + "/tenant1").json()
        assert meta["issuer"] == o + "/tenant1" and meta["token_endpoint"] == o + "/tenant1/token"
        assert meta["authorization_endpoint"] == o + "/tenant1/authorize"
        for path in (OIDC_WK + "/tenant1", "/tenant1" + OIDC_WK):
            assert HTTP.get(o + path).json()["issuer"] == o + "/tenant1"
        for path in (AS_WK, OIDC_WK, "/token", "/authorize", "/register", "/tenant1" + AS_WK):
            assert _status(o + path) == 404, path
        assert HTTP.get(srv.urls.prm).json()["authorization_servers"] == [o + "/tenant1"]
        since = srv.journal.last_seq
        tok = tokens(srv)
        assert tok["token_endpoint"] == o + "/tenant1/token"
        assert call_tool(HTTP, srv, tok["access_token"]).status_code == 200
        names = [e.endpoint for e in srv.journal.entries("request", since=since)]
        assert names[:4] == ["as_metadata", "register", "authorize", "token"]


def test_issuer_path_follows_the_knob() -> None:
    with MockServer(knobs=Knobs(layout="issuer_path", issuer_path="/orgs/acme")) as srv:
        o = srv.urls.origin
        assert HTTP.get(o + AS_WK + "/orgs/acme").json()["token_endpoint"] == o + "/orgs/acme/token"


def test_oidc_only() -> None:
    with MockServer(knobs=Knobs(layout="oidc_only")) as srv:
        o = srv.urls.origin
        assert _status(o + AS_WK) == 404
        assert HTTP.get(o + OIDC_WK).json()["issuer"] == o
        assert HTTP.get(srv.urls.prm).status_code == 200


def test_prm_root() -> None:
    with MockServer(knobs=Knobs(layout="prm_root")) as srv:
        o = srv.urls.origin
        assert srv.urls.prm == o + PRM_WK
        assert HTTP.get(o + PRM_WK).json()["resource"] == srv.mcp_url
        assert _status(o + PRM_WK + "/mcp") == 404
        assert f'resource_metadata="{o}{PRM_WK}"' in _challenge(srv)


def test_prm_header_only() -> None:
    with MockServer(knobs=Knobs(layout="prm_header_only")) as srv:
        o = srv.urls.origin
        assert not srv.urls.prm.startswith(o + "/.well-known")
        assert _status(o + PRM_WK) == 404 and _status(o + PRM_WK + "/mcp") == 404
        assert f'resource_metadata="{srv.urls.prm}"' in _challenge(srv)
        assert HTTP.get(srv.urls.prm).json()["resource"] == srv.mcp_url
        prm_requests = [e for e in srv.journal.entries("request") if e.endpoint == "prm"]
        assert len(prm_requests) == 3  # the two well-known misses are still journaled as prm probes


def test_legacy_2025_03_26() -> None:
    with MockServer(knobs=Knobs(layout="legacy_2025_03_26")) as srv:
        o = srv.urls.origin
        assert srv.urls.prm is None
        assert _status(o + PRM_WK + "/mcp") == 404 and _status(o + PRM_WK) == 404
        meta = HTTP.get(o + AS_WK).json()
        assert (meta["authorization_endpoint"], meta["token_endpoint"], meta["registration_endpoint"]) == (
            o + "/authorize", o + "/token", o + "/register")
        www = _challenge(srv)
        assert "resource_metadata" not in www
        assert call_tool(HTTP, srv, tokens(srv)["access_token"]).status_code == 200


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 500, 502])
def test_well_known_status_matrix(status: int) -> None:
    forced = {AS_WK: status, PRM_WK: status}
    with MockServer(knobs=Knobs(well_known_status=forced)) as srv:
        o = srv.urls.origin
        r = HTTP.get(o + AS_WK)
        assert r.status_code == status
        if status == 200:
            assert r.json()["issuer"] == o
            assert HTTP.get(o + PRM_WK).json()["resource"] == srv.mcp_url  # not served by default: forced 200
        elif status in (502,):
            assert r.headers["content-type"].startswith("text/html") and "<html" in r.text
        else:
            assert r.json()["error"]
        if status == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert HTTP.get(o + OIDC_WK).status_code == 200  # only the named paths are forced
        injected = srv.journal.entries("fault_injected")
        assert injected and injected[0].data["action"] == "well_known_status" and injected[0].endpoint == "as_metadata"


def test_well_known_status_accepts_full_urls_and_changes_at_runtime() -> None:
    with MockServer() as srv:
        o = srv.urls.origin
        srv.set_knobs(well_known_status={o + PRM_WK + "/mcp": 404})
        assert _status(o + PRM_WK + "/mcp") == 404
        srv.set_knobs(well_known_status={})
        assert _status(o + PRM_WK + "/mcp") == 200


def test_authorization_servers_override_and_prm_resource() -> None:
    with MockServer() as srv:
        srv.set_knobs(authorization_servers=["https://as2.example"], prm_resource="https://elsewhere.example/mcp")
        prm = HTTP.get(srv.urls.prm).json()
        assert prm["authorization_servers"] == ["https://as2.example"]
        assert prm["resource"] == "https://elsewhere.example/mcp"


def test_challenge_knobs() -> None:
    with MockServer() as srv:
        srv.set_knobs(required_scope="mcp:admin")
        assert _challenge(srv).endswith('scope="mcp:admin"')
        srv.set_knobs(challenge_scope=False)
        assert "scope=" not in _challenge(srv)
        srv.set_knobs(challenge_resource_metadata=False)
        assert _challenge(srv) == "Bearer"


def test_metadata_helper_follows_layout() -> None:
    for layout in ("default", "issuer_path", "oidc_only", "legacy_2025_03_26"):
        with MockServer(knobs=Knobs(layout=layout)) as srv:
            assert metadata(HTTP, srv)["issuer"] == srv.urls.issuer
