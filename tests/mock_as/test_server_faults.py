"""The fault plan as the middleware applies it: errors, HTML pages, latency and dropped responses."""

from __future__ import annotations

import httpx
import pytest

from mock_as import Fault
from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.mock_as.server_helpers import HTTP, refresh, tokens

AS_WK = "/.well-known/oauth-authorization-server"


@pytest.fixture
def srv() -> MockServer:
    with MockServer(knobs=Knobs(rotate_refresh_tokens=True, reuse_policy="revoke_family")) as server:
        yield server


def _meta(srv: MockServer) -> httpx.Response:
    return HTTP.get(srv.urls.origin + AS_WK)


def test_error_once(srv: MockServer) -> None:
    srv.arm_fault(Fault(endpoint="as_metadata", action="error", status=503, error="temporarily_unavailable",
                        error_description="try later"))
    r = _meta(srv)
    assert r.status_code == 503
    assert r.json() == {"error": "temporarily_unavailable", "error_description": "try later"}
    assert _meta(srv).status_code == 200
    (fired,) = srv.journal.entries("fault_injected")
    assert (fired.endpoint, fired.data["action"], fired.data["fired"]) == ("as_metadata", "error", 1)
    response = srv.journal.entries("response", exchange=fired.exchange)[0]
    assert (response.data["status"], response.data["error"], response.data["fault"]) == (
        503, "temporarily_unavailable", "error")


def test_error_n_times_then_always(srv: MockServer) -> None:
    srv.arm_fault({"endpoint": "as_metadata", "action": "error", "times": 3, "status": 500})
    assert [_meta(srv).status_code for _ in range(4)] == [500, 500, 500, 200]
    srv.arm_fault({"endpoint": "as_metadata", "action": "error", "times": None, "status": 400, "error": "x"})
    assert [_meta(srv).status_code for _ in range(5)] == [400] * 5
    assert srv.faults.describe()[0]["fired"] == 5
    srv.faults.clear()
    assert _meta(srv).status_code == 200


def test_error_defaults_and_non_standard_bodies(srv: MockServer) -> None:
    srv.arm_fault(Fault(endpoint="as_metadata", action="error"))
    r = _meta(srv)
    assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"
    srv.arm_fault(Fault(endpoint="as_metadata", action="error", status=400, body="Token is not active"))
    r = _meta(srv)
    assert (r.status_code, r.text, r.headers["content-type"].split(";")[0]) == (
        400, "Token is not active", "text/plain")
    srv.arm_fault(Fault(endpoint="as_metadata", action="error", status=401, body='{"message": "nope"}'))
    r = _meta(srv)
    assert r.status_code == 401 and r.json() == {"message": "nope"}


def test_html_fault(srv: MockServer) -> None:
    srv.arm_fault(Fault(endpoint="token", action="html"))
    r = HTTP.post(srv.urls.issuer + "/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in r.text
    srv.arm_fault(Fault(endpoint="token", action="html", status=504, body="<html>gateway timeout</html>"))
    r = HTTP.post(srv.urls.issuer + "/token", data={})
    assert (r.status_code, r.text) == (504, "<html>gateway timeout</html>")


def test_fault_matches_request_params(srv: MockServer) -> None:
    tok = tokens(srv)
    srv.arm_fault(Fault(endpoint="token", action="error", status=503, match={"grant_type": "refresh_token"}))
    r = refresh(HTTP, tok, srv)
    assert r.status_code == 503
    assert not srv.journal.entries("refresh_rotated")  # the endpoint never ran
    r = refresh(HTTP, tok, srv)
    assert r.status_code == 200 and srv.journal.entries("refresh_rotated")


def test_latency_fault_delays_then_answers(srv: MockServer) -> None:
    srv.arm_fault(Fault(endpoint="as_metadata", action="latency", latency_s=0.05))
    assert _meta(srv).status_code == 200
    (fired,) = srv.journal.entries("fault_injected")
    assert fired.data["action"] == "latency"
    assert srv.journal.entries("response", exchange=fired.exchange)[0].data["duration_ms"] >= 50


def test_drop_after_commit_on_refresh(srv: MockServer) -> None:
    tok = tokens(srv)
    srv.arm_fault(Fault(endpoint="token", action="drop_after_commit", match={"grant_type": "refresh_token"}))
    with pytest.raises(httpx.RemoteProtocolError):
        refresh(HTTP, tok, srv)
    # the rotation happened (committed) although the client never heard about it (C11)
    (rotated,) = srv.journal.entries("refresh_rotated")
    (resp,) = [e for e in srv.journal.entries("response") if e.exchange == rotated.exchange]
    assert resp.data["status"] is None and resp.data["committed_status"] == 200 and resp.data["dropped"] is True
    assert resp.data["refresh_token"] == rotated.data["new"]  # which token was lost, by prefix
    # the client retries with the old refresh token: that is reuse
    r = refresh(HTTP, tok, srv)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert srv.journal.entries("reuse_detected")
    assert not srv.journal.entries("internal_error")


def test_drop_after_commit_on_mcp(srv: MockServer) -> None:
    from tests.mock_as.server_helpers import initialize

    tok = tokens(srv)["access_token"]
    srv.arm_fault(Fault(endpoint="mcp", action="drop_after_commit", match={"method": "initialize"}))
    with pytest.raises(httpx.RemoteProtocolError):
        initialize(HTTP, srv, tok)
    assert initialize(HTTP, srv, tok).status_code == 200


def test_faults_on_a_separate_as_origin() -> None:
    with MockServer(knobs=Knobs(layout="as_separate_origin")) as srv:
        srv.arm_fault(Fault(endpoint="as_metadata", action="error", status=502))
        assert HTTP.get(srv.urls.as_origin + AS_WK).status_code == 502
        assert HTTP.get(srv.urls.as_origin + AS_WK).status_code == 200
