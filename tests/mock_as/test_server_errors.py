"""Never a 500 for bad input; a bug in the mock is an RFC-shaped 500 that tests can see in the journal."""

from __future__ import annotations

import pytest

from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.mock_as.server_helpers import HTTP, MCP_HEADERS

PATHS = ["/authorize", "/token", "/register", "/revoke", "/introspect", "/jwks", "/cimd/x", "/mcp",
         "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
         "/.well-known/oauth-protected-resource/mcp", "/nope", "/_admin/knobs", "/_admin/journal"]
BODIES: list[tuple[str, bytes]] = [
    ("application/json", b'{"garbage":'),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b'"just a string"'),
    ("application/x-www-form-urlencoded", b"grant_type=%ZZ&&=&code"),
    ("application/x-www-form-urlencoded", b"grant_type=authorization_code&code=nope&code_verifier=x"),
    ("application/x-www-form-urlencoded", b"grant_type=refresh_token&refresh_token=nope&client_id=nobody"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
    ("text/plain", b"\xff\xfe\x00binary"),
    ("", b""),
]


@pytest.fixture(scope="module")
def srv() -> MockServer:
    with MockServer(knobs=Knobs(layout="default")) as server:
        yield server


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_bad_input_never_gets_a_500(srv: MockServer, method: str) -> None:
    for path in PATHS:
        for ctype, body in BODIES:
            headers = {**MCP_HEADERS, "content-type": ctype} if path == "/mcp" else {"content-type": ctype}
            r = HTTP.request(method, srv.urls.origin + path + "?x=%ZZ&state=%00", content=body, headers=headers)
            assert r.status_code < 500, (method, path, ctype, body, r.status_code, r.text)
            if r.status_code >= 400 and path != "/mcp":
                assert r.headers["content-type"].startswith("application/json"), (method, path, r.text)
                assert "error" in r.json()
    assert srv.journal.entries("internal_error") == []


def test_unknown_path_and_method_are_json(srv: MockServer) -> None:
    r = HTTP.get(srv.urls.origin + "/definitely/not/here")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = HTTP.delete(srv.urls.origin + "/.well-known/oauth-authorization-server")
    assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


def test_oversized_body_is_413(srv: MockServer) -> None:
    r = HTTP.post(srv.urls.origin + "/token", content=b"x" * (4 * 1024 * 1024 + 10),
                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and r.json()["error"] == "invalid_request"


def test_internal_error_is_rfc_shaped_and_journaled(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import mock_as.app

    def boom(ctx: object) -> dict:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(mock_as.app, "protected_resource_metadata", boom)
    with MockServer() as srv:
        r = HTTP.get(srv.urls.prm, headers={"x-harness-actor": "t"})
        assert r.status_code == 500
        assert r.json() == {"error": "server_error",
                            "error_description": "internal error in the mock: ZeroDivisionError: simulated bug"}
        (entry,) = srv.journal.entries("internal_error")
        assert entry.endpoint == "prm" and entry.actor == "t" and "simulated bug" in entry.data["error"]
        assert "Traceback" in entry.data["trace"]
        assert srv.journal.entries("response")[-1].data["status"] == 500
    assert "simulated bug" in capsys.readouterr().err


def test_journal_entries_pair_requests_and_responses(srv: MockServer) -> None:
    since = srv.journal.last_seq
    HTTP.get(srv.urls.origin + "/.well-known/oauth-authorization-server", headers={"x-harness-actor": "tab-9"})
    req, resp = srv.journal.entries(since=since)
    assert (req.kind, resp.kind) == ("request", "response") and req.exchange == resp.exchange
    assert req.actor == resp.actor == "tab-9" and req.endpoint == resp.endpoint == "as_metadata"
    assert req.data["method"] == "GET" and resp.data["status"] == 200 and resp.data["duration_ms"] >= 0


def test_secrets_are_redacted_in_request_entries(srv: MockServer) -> None:
    since = srv.journal.last_seq
    HTTP.post(srv.urls.origin + "/token", data={"grant_type": "refresh_token", "refresh_token": "rt_supersecretvalue",
                                                "client_secret": "verysecretvalue", "client_id": "c1"})
    req = srv.journal.entries("request", since=since)[0]
    assert req.data["params"]["refresh_token"] == "rt_super…"
    assert req.data["params"]["client_secret"] == "verysecr…"
    assert req.client_id == "c1" and req.data["grant_type"] == "refresh_token"
