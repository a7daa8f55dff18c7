"""The admin API under /_admin: what a person (or another process) uses to drive the standalone server."""

from __future__ import annotations

import threading

import httpx
import pytest

from mock_as import ManualClock
from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.mock_as.server_helpers import HTTP, initialize, tokens

AS_WK = "/.well-known/oauth-authorization-server"


@pytest.fixture
def srv() -> MockServer:
    with MockServer(clock=ManualClock(start=1_000_000.0)) as server:
        yield server


def admin(srv: MockServer, method: str, path: str, **kwargs: object) -> httpx.Response:
    return HTTP.request(method, srv.urls.origin + "/_admin" + path, **kwargs)  # type: ignore[arg-type]


def test_get_and_patch_knobs(srv: MockServer) -> None:
    assert admin(srv, "GET", "/knobs").json() == Knobs().model_dump(mode="json")
    r = admin(srv, "PATCH", "/knobs", json={"access_token_ttl": "2s", "reuse_policy": "revoke_family"})
    assert r.status_code == 200 and r.json()["access_token_ttl"] == 2.0
    assert srv.knobs.reuse_policy == "revoke_family"
    assert srv.journal.entries("knobs_changed")[0].data["changes"]["reuse_policy"] == "revoke_family"


@pytest.mark.parametrize("body, needle", [
    ({"reuse_policy": "maybe"}, "reuse_policy: expected 'reject' or 'revoke_family'"),
    ({"no_such": 1}, "unknown knob no_such"),
    ({"access_token_ttl": "soon"}, "not a duration"),
    ({"layout": "as_separate_origin"}, "second origin"),
])
def test_patch_knobs_errors_are_one_line_400(srv: MockServer, body: dict, needle: str) -> None:
    r = admin(srv, "PATCH", "/knobs", json=body)
    assert r.status_code == 400
    doc = r.json()
    assert doc["error"] == "invalid_request" and needle in doc["error_description"]
    assert "\n" not in doc["error_description"]


def test_bad_json_bodies(srv: MockServer) -> None:
    r = admin(srv, "PATCH", "/knobs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not JSON" in r.json()["error_description"]
    assert admin(srv, "PATCH", "/knobs", json=[1, 2]).status_code == 400


def test_faults_lifecycle(srv: MockServer) -> None:
    r = admin(srv, "POST", "/faults", json={"endpoint": "as_metadata", "action": "error", "status": 503, "times": 2})
    assert r.status_code == 201 and r.json()["id"] >= 1
    assert [f["action"] for f in admin(srv, "GET", "/faults").json()["faults"]] == ["error"]
    assert HTTP.get(srv.urls.origin + AS_WK).status_code == 503
    assert admin(srv, "DELETE", "/faults").json() == {"faults": []}
    assert HTTP.get(srv.urls.origin + AS_WK).status_code == 200
    bad = admin(srv, "POST", "/faults", json={"endpoint": "nowhere", "action": "error"})
    assert bad.status_code == 400 and "unknown endpoint 'nowhere'" in bad.json()["error_description"]
    bad = admin(srv, "POST", "/faults", json={"endpoint": "token", "action": "explode"})
    assert bad.status_code == 400 and "action" in bad.json()["error_description"]


def test_gates_over_http(srv: MockServer) -> None:
    r = admin(srv, "POST", "/gates", json={"name": "g1", "endpoint": "as_metadata"})
    assert r.status_code == 201 and r.json()["waiting"] == 0
    assert admin(srv, "POST", "/gates", json={"name": "g1", "endpoint": "token"}).status_code == 409
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(HTTP.get(srv.urls.origin + AS_WK).status_code))
               for _ in range(2)]
    for t in threads:
        t.start()
    assert srv.gates.get("g1").wait_waiting(2)
    assert admin(srv, "GET", "/gates").json()["gates"][0]["waiting"] == 2
    r = admin(srv, "POST", "/gates/g1/release", params={"count": 1})
    assert r.json()["released"] == 1
    r = admin(srv, "POST", "/gates/g1/release")
    assert r.json()["released"] == 1
    for t in threads:
        t.join(5)
    assert results == [200, 200]
    assert admin(srv, "POST", "/gates/nope/release").status_code == 404
    assert admin(srv, "POST", "/gates/g1/release", params={"count": "x"}).status_code == 400
    assert admin(srv, "DELETE", "/gates/g1").status_code == 200
    for body in ({"endpoint": "token"}, {"name": "x", "endpoint": "nowhere"},
                 {"name": "x", "endpoint": "token", "phase": "later"},
                 {"name": "x", "endpoint": "token", "release_at": 0}, {"name": "x", "endpoint": "token", "bogus": 1}):
        r = admin(srv, "POST", "/gates", json=body)
        assert r.status_code == 400, body


def test_revoke_and_expire(srv: MockServer) -> None:
    tok = tokens(srv)
    assert admin(srv, "POST", "/expire").json() == {"expired": 1}
    assert initialize(HTTP, srv, tok["access_token"]).status_code == 401
    tok2 = tokens(srv)
    assert admin(srv, "POST", "/revoke", json={"client_id": tok2["client_id"]}).json()["revoked"] == 1
    assert initialize(HTTP, srv, tok2["access_token"]).status_code == 401
    assert [e.data["reason"] for e in srv.journal.entries("token_rejected")] == ["expired", "revoked"]


def test_clock(srv: MockServer) -> None:
    assert admin(srv, "GET", "/clock").json() == {"kind": "manual", "now": 1_000_000.0}
    assert admin(srv, "POST", "/clock", json={"advance": "30s"}).json() == {"kind": "manual", "now": 1_000_030.0}
    assert admin(srv, "POST", "/clock", json={"advance": 5}).json()["now"] == 1_000_035.0
    assert admin(srv, "POST", "/clock", json={"advance": "later"}).status_code == 400
    assert admin(srv, "POST", "/clock", json={}).status_code == 400
    assert srv.journal.entries("clock_advanced")[0].data == {"seconds": 30.0, "now": 1_000_030.0}


def test_clock_advance_needs_manual_clock() -> None:
    with MockServer() as srv:
        assert admin(srv, "GET", "/clock").json()["kind"] == "system"
        r = admin(srv, "POST", "/clock", json={"advance": "30s"})
        assert r.status_code == 409 and "--manual-clock" in r.json()["error_description"]


def test_journal_since_and_kind(srv: MockServer) -> None:
    tokens(srv)
    doc = admin(srv, "GET", "/journal").json()
    entries = doc["entries"]
    assert len(entries) >= 8 and doc["last_seq"] == entries[-1]["seq"]
    assert {"request", "response", "client_registered", "code_issued", "token_issued"} <= {e["kind"] for e in entries}
    assert all(not e["endpoint"] or e["endpoint"] != "admin" for e in entries)  # admin calls are not journaled
    mid = entries[3]["seq"]
    assert [e["seq"] for e in admin(srv, "GET", "/journal", params={"since": mid}).json()["entries"]] == [
        e["seq"] for e in entries if e["seq"] > mid]
    only = admin(srv, "GET", "/journal", params={"kind": "code_issued,token_issued"}).json()["entries"]
    assert [e["kind"] for e in only] == ["code_issued", "token_issued"]
    assert admin(srv, "GET", "/journal", params={"since": "x"}).status_code == 400
    token_entry = next(e for e in entries if e["kind"] == "token_issued")
    assert token_entry["data"]["access_token"].endswith("…")  # redacted


def test_reset(srv: MockServer) -> None:
    tokens(srv)
    admin(srv, "PATCH", "/knobs", json={"dcr": False})
    admin(srv, "POST", "/faults", json={"endpoint": "token", "action": "error", "times": None})
    admin(srv, "POST", "/gates", json={"name": "g", "endpoint": "token"})
    r = admin(srv, "POST", "/reset")
    assert r.status_code == 200 and r.json()["knobs"]["dcr"] is True
    assert admin(srv, "GET", "/faults").json()["faults"] == []
    assert admin(srv, "GET", "/gates").json()["gates"] == []
    assert [e["kind"] for e in admin(srv, "GET", "/journal").json()["entries"]] == ["reset"]


def test_openapi_describes_admin_and_oauth_endpoints(srv: MockServer) -> None:
    doc = admin(srv, "GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for p in ("/_admin/knobs", "/_admin/faults", "/_admin/gates", "/_admin/gates/{name}/release", "/_admin/revoke",
              "/_admin/expire", "/_admin/clock", "/_admin/journal", "/_admin/reset", "/_admin/openapi.json",
              AS_WK, "/.well-known/oauth-protected-resource/mcp", "/authorize", "/token", "/register", "/revoke",
              "/introspect", "/jwks", "/mcp"):
        assert p in paths, p
    assert set(paths["/_admin/knobs"]) == {"get", "patch"}
    schemas = doc["components"]["schemas"]
    assert {"Knobs", "Fault", "Gate", "Error"} <= set(schemas)
    # every $ref resolves inside the document
    import json
    import re

    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))):
        assert ref in schemas, ref


def test_unknown_admin_path_and_method(srv: MockServer) -> None:
    r = admin(srv, "GET", "/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = admin(srv, "DELETE", "/knobs")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_admin_token_required_when_configured() -> None:
    with MockServer(admin_token="s3cret") as srv:
        r = admin(srv, "GET", "/knobs")
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        assert admin(srv, "GET", "/knobs", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert admin(srv, "GET", "/knobs", headers={"authorization": "Bearer s3cret"}).status_code == 200
        # the OAuth and MCP endpoints are not affected
        assert HTTP.get(srv.urls.origin + AS_WK).status_code == 200
