"""The authorization-code flow with PKCE: the happy path and the ways it must refuse."""

from __future__ import annotations

from tests.mock_as.conftest import REDIRECT, ASHarness, pkce_pair


def test_full_code_flow_with_pkce(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id, state="flow-1", resource=as_server.resource)
    assert flow.params["state"] == "flow-1"
    assert flow.params["iss"] == as_server.ctx.urls.issuer
    r = as_server.exchange(flow, resource=as_server.resource)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"] and body["expires_in"] == 3600
    assert r.headers["cache-control"] == "no-store"
    check = as_server.ctx.state.validate_access_token(body["access_token"], as_server.resource)
    assert check.ok, check
    assert check.claims["client_id"] == client_id and check.claims["aud"] == as_server.resource
    assert check.claims["iss"] == as_server.ctx.urls.issuer
    kinds = as_server.kinds()
    for kind in ("client_registered", "consent", "code_issued", "code_redeemed", "token_issued"):
        assert kind in kinds
    issued = as_server.journal.entries("code_issued")[0]
    assert issued.flow == "flow-1" and issued.client_id == client_id
    assert issued.data["code"].endswith("…") and flow.code.startswith(issued.data["code"][:-1])


def _authorize_status(as_server: ASHarness, client_id: str, **overrides: str | None) -> tuple[int, dict[str, str]]:
    from urllib.parse import parse_qs, urlsplit

    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s1",
              "code_challenge": challenge, "code_challenge_method": "S256", **overrides}
    r = as_server.authorize_raw(**params)
    if r.status_code == 302:
        return 302, {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    return r.status_code, r.json()


def test_plain_and_missing_pkce_are_refused(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    verifier, _ = pkce_pair()
    for overrides in ({"code_challenge": verifier, "code_challenge_method": "plain"},
                      {"code_challenge_method": None},
                      {"code_challenge": None, "code_challenge_method": None}):
        status, params = _authorize_status(as_server, client_id, **overrides)
        assert status == 302 and params["error"] == "invalid_request" and params["state"] == "s1", params
        assert "code" not in params
    assert not as_server.journal.entries("code_issued")


def test_wrong_verifier_is_invalid_grant(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    flow.verifier = pkce_pair()[0]
    r = as_server.exchange(flow)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    flow.verifier = ""
    r = as_server.exchange(flow)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_code_redeemed_by_another_client_is_401_invalid_client(as_server: ASHarness) -> None:
    a = as_server.register()["client_id"]
    b = as_server.register()["client_id"]
    flow = as_server.authorize(a)
    r = as_server.exchange(flow, client_id=b)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    refused = as_server.journal.entries("token_refused")[-1]
    assert refused.client_id == b and refused.flow == "s1" and refused.data["error"] == "invalid_client"
    assert as_server.exchange(flow).status_code == 200  # the code was not consumed by the wrong client


def test_code_binding_can_be_switched_off(as_server: ASHarness) -> None:
    as_server.set_knobs(enforce_client_id=False)
    a = as_server.register()["client_id"]
    b = as_server.register()["client_id"]
    assert as_server.exchange(as_server.authorize(a), client_id=b).status_code == 200


def test_code_replay_is_invalid_grant_and_can_revoke_its_tokens(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    first = as_server.exchange(flow).json()
    r = as_server.exchange(flow)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert as_server.journal.entries("code_replayed")
    assert as_server.ctx.state.validate_access_token(first["access_token"], as_server.resource).ok

    as_server.set_knobs(revoke_tokens_on_code_replay=True)
    flow = as_server.authorize(client_id)
    first = as_server.exchange(flow).json()
    assert as_server.exchange(flow).status_code == 400
    assert as_server.journal.entries("family_revoked", reason="code_replay")
    check = as_server.ctx.state.validate_access_token(first["access_token"], as_server.resource)
    assert not check.ok and check.reason == "family_revoked"
    assert as_server.refresh(client_id, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_code_expires_on_the_mock_clock(as_server: ASHarness) -> None:
    as_server.set_knobs(code_ttl=5)
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    as_server.clock.advance(5)
    r = as_server.exchange(flow)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_or_no_redirect_happens(as_server: ASHarness) -> None:
    client_id = as_server.register(redirect_uris=["http://127.0.0.1:5000/cb"])["client_id"]
    status, body = _authorize_status(as_server, client_id, redirect_uri="http://127.0.0.1:6000/cb")
    assert status == 400 and body["error"] == "invalid_request"  # an error page, never a redirect
    status, body = _authorize_status(as_server, "no-such-client")
    assert status == 400 and body["error"] == "invalid_client"
    as_server.set_knobs(redirect_match="loopback_any_port")
    flow = as_server.authorize(client_id, redirect_uri="http://127.0.0.1:6000/cb")
    assert "code" in flow.params
    status, body = _authorize_status(as_server, client_id, redirect_uri="http://127.0.0.1:6000/other")
    assert status == 400
    status, body = _authorize_status(as_server, client_id, redirect_uri="http://evil.example:5000/cb")
    assert status == 400
    r = as_server.exchange(flow, redirect_uri="http://127.0.0.1:5000/cb")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"  # bound to the URI actually used


def test_iss_modes(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    assert as_server.authorize(client_id).params["iss"] == as_server.ctx.urls.issuer
    as_server.set_knobs(iss_in_callback="wrong")
    wrong = as_server.authorize(client_id).params["iss"]
    assert wrong != as_server.ctx.urls.issuer
    as_server.set_knobs(iss_in_callback="omitted")
    assert "iss" not in as_server.authorize(client_id).params


def test_consent_deny_redirects_access_denied(as_server: ASHarness) -> None:
    as_server.set_knobs(consent="deny", consent_delay_s=30)
    client_id = as_server.register()["client_id"]
    params = as_server.authorize(client_id, state="x").params
    assert params["error"] == "access_denied" and params["state"] == "x" and "iss" in params
    consent = as_server.journal.entries("consent")[-1]
    assert consent.data["outcome"] == "deny" and consent.data["delay_s"] == 30
    # the manual clock moved by the consent delay before the consent was journaled (no real waiting)
    assert consent.ts == as_server.journal.entries()[0].ts + 30


def test_callback_error_fault_once(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    as_server.ctx.faults.arm({"endpoint": "authorize", "action": "callback_error", "error": "server_error",
                              "error_description": "try later", "match": {"state": "f1"}})
    assert "code" in as_server.authorize(client_id, state="other").params
    params = as_server.authorize(client_id, state="f1").params
    assert params == {"error": "server_error", "error_description": "try later", "state": "f1",
                      "iss": as_server.ctx.urls.issuer}
    assert "code" in as_server.authorize(client_id, state="f1").params  # times=1


def test_resource_required_at_authorize_and_token(as_server: ASHarness) -> None:
    as_server.set_knobs(resource_policy="require")
    client_id = as_server.register()["client_id"]
    params = as_server.authorize(client_id).params
    assert params["error"] == "invalid_target" and params["state"] == "s1"
    params = as_server.authorize(client_id, resource=as_server.resource + "/").params
    assert params["error"] == "invalid_target"  # exact string comparison
    flow = as_server.authorize(client_id, resource=as_server.resource)
    r = as_server.exchange(flow)
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"
    assert as_server.exchange(flow, resource=as_server.resource).status_code == 200


def test_expired_client_is_invalid_client(as_server: ASHarness) -> None:
    as_server.set_knobs(expire_client_after_s=60)
    client_id, tokens = as_server.login()
    as_server.clock.advance(60)
    r = as_server.refresh(client_id, tokens["refresh_token"])
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    status, body = _authorize_status(as_server, client_id)
    assert status == 401 and body["error"] == "invalid_client"
    assert len(as_server.journal.entries("client_expired", client_id=client_id)) == 2


def test_pre_registered_clients(as_server: ASHarness) -> None:
    as_server.set_knobs(pre_registered=[
        {"client_id": "public"},
        {"client_id": "basic", "client_secret": "s3cret", "token_endpoint_auth_method": "client_secret_basic",
         "redirect_uris": [REDIRECT]},
        {"client_id": "post", "client_secret": "s3cret", "token_endpoint_auth_method": "client_secret_post"}])
    flow = as_server.authorize("public", redirect_uri="http://localhost:4321/callback")  # any loopback
    assert as_server.exchange(flow).status_code == 200

    flow = as_server.authorize("basic")
    r = as_server.http.post("/token", auth=("basic", "s3cret"), data={
        "grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT,
        "code_verifier": flow.verifier})
    assert r.status_code == 200, r.text
    flow = as_server.authorize("basic")
    r = as_server.http.post("/token", auth=("basic", "wrong"), data={
        "grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT,
        "code_verifier": flow.verifier})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert as_server.exchange(flow, client_id="basic").status_code == 401  # a confidential client must authenticate

    flow = as_server.authorize("post")
    assert as_server.exchange(flow, client_secret="s3cret").status_code == 200


def test_cimd_client_served_and_resolved_in_process(as_server: ASHarness) -> None:
    url = as_server.ctx.state.publish_cimd("app", redirect_uris=[REDIRECT])
    doc = as_server.http.get(url).json()
    assert doc["client_id"] == url and doc["redirect_uris"] == [REDIRECT]
    flow = as_server.authorize(url)
    assert as_server.exchange(flow).status_code == 200
    fetched = as_server.journal.entries("cimd_fetched")
    assert fetched and fetched[0].data["ok"] and fetched[0].data["in_process"]
    status, body = _authorize_status(as_server, as_server.ctx.urls.issuer + "/cimd/unpublished")
    assert status == 400 and body["error"] == "invalid_client"
    as_server.set_knobs(cimd=False)
    status, body = _authorize_status(as_server, url)
    assert status == 400 and body["error"] == "invalid_client"


def test_registration_knobs(as_server: ASHarness) -> None:
    reg = as_server.register(token_endpoint_auth_method="client_secret_basic")
    assert reg["client_secret"] and reg["client_id_issued_at"] == int(as_server.clock.now())
    public = as_server.register()
    assert "client_secret" not in public
    as_server.set_knobs(require_application_type=True)
    r = as_server.http.post("/register", json={"redirect_uris": [REDIRECT]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata"
    assert as_server.register(application_type="native")["application_type"] == "native"
    r = as_server.http.post("/register", json={"token_endpoint_auth_method": "none"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri"
    as_server.set_knobs(dcr=False)
    r = as_server.http.post("/register", json={"redirect_uris": [REDIRECT]})
    assert r.status_code == 404 and r.json()["error"]


def test_token_endpoint_path_knob_moves_the_route(as_server: ASHarness) -> None:
    as_server.set_knobs(token_endpoint_path="/oauth2/v1/token")
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    assert as_server.exchange(flow).status_code == 404
    r = as_server.http.post("/oauth2/v1/token", data={
        "grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT, "client_id": client_id,
        "code_verifier": flow.verifier})
    assert r.status_code == 200, r.text
    meta = as_server.http.get("/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == as_server.base + "/oauth2/v1/token"


def test_cimd_document_fetched_over_http(as_server: ASHarness) -> None:
    """A URL that is not one of our own /cimd/ URLs is fetched with httpx (here: our server via localhost)."""
    port = as_server.base.rsplit(":", 1)[1]
    url = f"http://localhost:{port}/cimd/remote"
    as_server.ctx.state.publish_cimd("remote", client_id=url, redirect_uris=[REDIRECT])
    flow = as_server.authorize(url)
    assert as_server.exchange(flow).status_code == 200
    fetched = as_server.journal.entries("cimd_fetched")[0]
    assert fetched.data["ok"] and not fetched.data["in_process"]
    as_server.ctx.state.publish_cimd("remote", client_id="https://someone-else.example/x",
                                     redirect_uris=[REDIRECT])
    status, body = _authorize_status(as_server, url)
    assert status == 400 and body["error"] == "invalid_client"  # client_id must equal the document URL
