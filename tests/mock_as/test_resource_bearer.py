"""The bearer layer in front of the MCP server: every rejection is a 401/403 with the right challenge, journaled."""

from __future__ import annotations

import pytest

from mock_as import Fault, ManualClock
from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.mock_as.server_helpers import HTTP, MCP_HEADERS, call_tool, initialize, rpc, tokens


@pytest.fixture
def srv() -> MockServer:
    with MockServer(clock=ManualClock()) as server:
        yield server


def _rejections(srv: MockServer) -> list[tuple[str | None, str | None]]:
    return [(e.data.get("reason"), e.actor) for e in srv.journal.entries("token_rejected")]


def test_missing_token_gets_the_challenge(srv: MockServer) -> None:
    r = initialize(HTTP, srv, None, **{"x-harness-actor": "tab-1"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{srv.urls.prm}", scope="mcp:read mcp:write"')
    assert "error=" not in r.headers["www-authenticate"]
    assert _rejections(srv) == [("missing", "tab-1")]


def test_valid_token_reaches_the_tools(srv: MockServer) -> None:
    tok = tokens(srv)
    r = call_tool(HTTP, srv, tok["access_token"], "add_numbers", {"a": 2, "b": 40})
    assert r.status_code == 200 and '"structuredContent":{"result":42}' in r.text.replace(" ", "")
    assert _rejections(srv) == []
    responses = [e for e in srv.journal.entries("response") if e.endpoint == "mcp"]
    assert responses and all(e.client_id == tok["client_id"] for e in responses)


def test_expired_token_via_manual_clock(srv: MockServer) -> None:
    tok = tokens(srv)
    assert initialize(HTTP, srv, tok["access_token"]).status_code == 200
    srv.advance_clock(3601)
    r = initialize(HTTP, srv, tok["access_token"], **{"x-harness-actor": "tab-2"})
    assert r.status_code == 401
    www = r.headers["www-authenticate"]
    assert www.startswith('Bearer error="invalid_token"') and f'resource_metadata="{srv.urls.prm}"' in www
    assert r.json()["error"] == "invalid_token"
    (entry,) = srv.journal.entries("token_rejected")
    assert (entry.data["reason"], entry.actor, entry.client_id) == ("expired", "tab-2", tok["client_id"])
    assert tok["access_token"].startswith(entry.data["token"].rstrip("…"))


def test_revoked_and_force_expired_tokens(srv: MockServer) -> None:
    tok = tokens(srv)
    srv.revoke_access_tokens()
    assert initialize(HTTP, srv, tok["access_token"]).status_code == 401
    tok2 = tokens(srv)
    srv.expire_access_tokens(tok2["client_id"])
    assert initialize(HTTP, srv, tok2["access_token"]).status_code == 401
    assert [r for r, _ in _rejections(srv)] == ["revoked", "expired"]


def test_wrong_audience(srv: MockServer) -> None:
    # a token this AS minted for another resource server (the AS itself only issues for this one)
    client_id = tokens(srv)["client_id"]
    fam = srv.state.new_family(client_id, "user-1", "mcp:read", "https://other.example/mcp", None)
    other = srv.state.new_access_token(fam, "mcp:read").token
    assert initialize(HTTP, srv, other).status_code == 401
    assert [r for r, _ in _rejections(srv)] == ["wrong_audience"]


def test_garbage_and_forged_tokens(srv: MockServer) -> None:
    assert initialize(HTTP, srv, "not-a-token").status_code == 401
    tok = tokens(srv)["access_token"]
    head, body, sig = tok.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    assert initialize(HTTP, srv, forged).status_code == 401
    assert [r for r, _ in _rejections(srv)] == ["unknown", "bad_signature"]


def test_token_in_query_string_is_rejected_and_journaled(srv: MockServer) -> None:
    tok = tokens(srv)["access_token"]
    r = HTTP.post(srv.mcp_url, params={"access_token": tok}, headers=MCP_HEADERS, json=rpc("initialize", {}))
    assert r.status_code == 401 and 'error="invalid_request"' in r.headers["www-authenticate"]
    # even together with a good header: a client that leaks the token in the URL is caught (TOK-1)
    r = HTTP.post(srv.mcp_url, params={"access_token": tok}, json=rpc("initialize", {}),
                  headers={**MCP_HEADERS, "authorization": f"Bearer {tok}"})
    assert r.status_code == 401
    entries = srv.journal.entries("token_rejected")
    assert [(e.data["reason"], e.data["also_in_header"]) for e in entries] == [
        ("token_in_query", False), ("token_in_query", True)]
    assert all(tok not in str(e.to_dict()) for e in srv.journal.entries())  # never journaled in full


def test_non_bearer_scheme(srv: MockServer) -> None:
    r = HTTP.post(srv.mcp_url, json=rpc("initialize", {}), headers={**MCP_HEADERS, "authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 401
    assert _rejections(srv) == [("not_bearer", None)]


def test_step_up_403_names_only_the_missing_scope(srv: MockServer) -> None:
    srv.set_knobs(step_up_scope="mcp:admin", scopes_supported=["mcp:read", "mcp:write", "mcp:admin"])
    tok = tokens(srv, scope="mcp:read")
    assert initialize(HTTP, srv, tok["access_token"]).status_code == 200  # only tools/call needs it
    r = call_tool(HTTP, srv, tok["access_token"], "echo", {"text": "x"}, **{"x-harness-actor": "tab-1"})
    assert r.status_code == 403
    www = r.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in www and 'scope="mcp:admin"' in www
    assert f'resource_metadata="{srv.urls.prm}"' in www
    (entry,) = srv.journal.entries("step_up_challenge")
    assert (entry.data["scope"], entry.data["tool"], entry.actor) == ("mcp:admin", "echo", "tab-1")
    stepped = tokens(srv, scope="mcp:read mcp:admin")
    assert call_tool(HTTP, srv, stepped["access_token"]).status_code == 200


def test_required_scope(srv: MockServer) -> None:
    srv.set_knobs(required_scope="mcp:write")
    r = initialize(HTTP, srv, None)
    assert r.headers["www-authenticate"].endswith('scope="mcp:write"')
    weak = tokens(srv, scope="mcp:read")
    r = initialize(HTTP, srv, weak["access_token"])
    assert r.status_code == 403 and 'scope="mcp:write"' in r.headers["www-authenticate"]
    strong = tokens(srv, scope="mcp:write")
    assert initialize(HTTP, srv, strong["access_token"]).status_code == 200


def test_unauthorized_fault_n_times(srv: MockServer) -> None:
    tok = tokens(srv)["access_token"]
    srv.arm_fault(Fault(endpoint="mcp", action="unauthorized", times=2))
    assert [initialize(HTTP, srv, tok).status_code for _ in range(3)] == [401, 401, 200]
    assert [r for r, _ in _rejections(srv)] == ["injected", "injected"]
    assert len(srv.journal.entries("fault_injected")) == 2


def test_unauthorized_fault_always_and_match_on_method(srv: MockServer) -> None:
    tok = tokens(srv)["access_token"]
    srv.arm_fault({"endpoint": "mcp", "action": "unauthorized", "times": None, "match": {"method": "tools/call"}})
    assert initialize(HTTP, srv, tok).status_code == 200
    assert call_tool(HTTP, srv, tok).status_code == 401
    assert call_tool(HTTP, srv, tok).status_code == 401
    assert srv.faults.describe()[0]["fired"] == 2


def test_insufficient_scope_fault(srv: MockServer) -> None:
    tok = tokens(srv)["access_token"]
    srv.arm_fault(Fault(endpoint="mcp", action="insufficient_scope", scope="mcp:extra", match={"tool": "echo"}))
    r = call_tool(HTTP, srv, tok)
    assert r.status_code == 403 and 'scope="mcp:extra"' in r.headers["www-authenticate"]
    assert call_tool(HTTP, srv, tok).status_code == 200
    assert srv.journal.entries("step_up_challenge")[0].data["injected"] is True


def test_legacy_layout_challenge_has_no_resource_metadata() -> None:
    with MockServer(knobs=Knobs(layout="legacy_2025_03_26")) as srv:
        r = initialize(HTTP, srv, None)
        assert r.status_code == 401 and "resource_metadata" not in r.headers["www-authenticate"]
