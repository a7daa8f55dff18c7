"""Access tokens, keys, revocation (RFC 7009), introspection (RFC 7662) and the metadata documents."""

from __future__ import annotations

from authlib.oauth2 import rfc8414, rfc9207
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.mock_as.conftest import ASHarness


def test_metadata_documents_validate(as_server: ASHarness) -> None:
    meta = as_server.http.get("/.well-known/oauth-authorization-server").json()
    rfc8414.AuthorizationServerMetadata(meta).validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    assert meta["issuer"] == as_server.base and meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["registration_endpoint"] == as_server.base + "/register"
    oidc = as_server.http.get("/.well-known/openid-configuration").json()
    assert oidc["jwks_uri"] == as_server.base + "/jwks" and oidc["subject_types_supported"] == ["public"]
    as_server.set_knobs(dcr=False, advertise_pkce=False, advertise_iss_support=False)
    meta = as_server.http.get("/.well-known/oauth-authorization-server").json()
    assert not {"registration_endpoint", "code_challenge_methods_supported",
                "authorization_response_iss_parameter_supported"} & set(meta)


def test_jwt_verifies_against_the_published_jwks_across_a_key_rotation(as_server: ASHarness) -> None:
    client_id, t1 = as_server.login()
    jwks = as_server.http.get("/jwks").json()
    token = jwt.decode(t1["access_token"], KeySet.import_key_set(jwks), algorithms=["ES256"])
    assert token.header["kid"] == jwks["keys"][-1]["kid"] and token.claims["sub"] == "user-1"
    assert token.claims["exp"] - token.claims["iat"] == 3600 and token.claims["fam"]
    new_kid = as_server.ctx.keys.rotate()
    t2 = as_server.refresh(client_id, t1["refresh_token"]).json()
    jwks = as_server.http.get("/jwks").json()
    assert [k["kid"] for k in jwks["keys"]][-1] == new_kid and len(jwks["keys"]) == 2
    assert jwt.decode(t2["access_token"], KeySet.import_key_set(jwks)).header["kid"] == new_kid
    state = as_server.ctx.state
    assert state.validate_access_token(t1["access_token"], as_server.resource).ok  # old key still published
    as_server.ctx.keys.retire(jwt.decode(t1["access_token"], KeySet.import_key_set(jwks)).header["kid"])
    assert state.validate_access_token(t1["access_token"], as_server.resource).reason == "bad_signature"


def test_rs256_and_opaque_tokens(as_server: ASHarness) -> None:
    as_server.set_knobs(signing_alg="RS256")
    _, t = as_server.login()
    jwks = as_server.http.get("/jwks").json()
    assert jwt.decode(t["access_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]).header["alg"] == "RS256"
    as_server.set_knobs(jwt_access_tokens=False)
    _, t = as_server.login()
    assert t["access_token"].count(".") == 0
    check = as_server.ctx.state.validate_access_token(t["access_token"], as_server.resource)
    assert check.ok and check.scope == set()


def test_validate_access_token_reasons(as_server: ASHarness) -> None:
    state = as_server.ctx.state
    _, t = as_server.login(scope="mcp:read mcp:write")
    at = t["access_token"]
    check = state.validate_access_token(at, as_server.resource)
    assert check.ok and check.scope == {"mcp:read", "mcp:write"}
    assert state.validate_access_token(at, as_server.resource + "x").reason == "wrong_audience"
    assert state.validate_access_token(at[:-4] + "AAAA", as_server.resource).reason == "bad_signature"
    assert state.validate_access_token("opaque-unknown", as_server.resource).reason == "unknown"
    assert state.validate_access_token("", as_server.resource).reason == "malformed"
    as_server.clock.advance(3600)
    assert state.validate_access_token(at, as_server.resource).reason == "expired"

    _, t = as_server.login()
    state.expire_access_tokens()
    assert state.validate_access_token(t["access_token"], as_server.resource).reason == "expired"
    _, t = as_server.login()
    assert state.revoke_access_tokens() >= 1
    assert state.validate_access_token(t["access_token"], as_server.resource).reason == "revoked"
    assert as_server.journal.entries("token_revoked", source="admin")


def test_revocation(as_server: ASHarness) -> None:
    client_id, t = as_server.login()
    state = as_server.ctx.state
    r = as_server.http.post("/revoke", data={"token": t["access_token"], "client_id": client_id})
    assert r.status_code == 200
    assert state.validate_access_token(t["access_token"], as_server.resource).reason == "revoked"
    assert as_server.refresh(client_id, t["refresh_token"]).status_code == 200  # only the AT went

    client_id, t = as_server.login()
    r = as_server.http.post("/revoke", data={"token": t["refresh_token"], "token_type_hint": "refresh_token",
                                             "client_id": client_id})
    assert r.status_code == 200
    assert as_server.refresh(client_id, t["refresh_token"]).json()["error"] == "invalid_grant"
    assert state.validate_access_token(t["access_token"], as_server.resource).reason == "family_revoked"
    assert as_server.journal.entries("family_revoked", reason="revoked_by_client")
    # unknown tokens are fine (RFC 7009 2.2); a missing token or a bad hint is not
    assert as_server.http.post("/revoke", data={"token": "nope", "client_id": client_id}).status_code == 200
    r = as_server.http.post("/revoke", data={"client_id": client_id})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = as_server.http.post("/revoke", data={"token": "x", "token_type_hint": "id_token", "client_id": client_id})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_token_type"


def test_introspection(as_server: ASHarness) -> None:
    client_id, t = as_server.login(scope="mcp:read")
    r = as_server.http.post("/introspect", data={"token": t["access_token"], "client_id": client_id})
    body = r.json()
    assert r.status_code == 200 and body["active"] is True
    assert body["client_id"] == client_id and body["scope"] == "mcp:read" and body["aud"] == as_server.resource
    r = as_server.http.post("/introspect", data={"token": t["refresh_token"], "client_id": client_id})
    assert r.json()["active"] is True and r.json()["token_type"] == "refresh_token"
    as_server.clock.advance(3600)
    r = as_server.http.post("/introspect", data={"token": t["access_token"], "client_id": client_id})
    assert r.json() == {"active": False}
    r = as_server.http.post("/introspect", data={"token": "unknown", "client_id": client_id})
    assert r.json() == {"active": False}
    r = as_server.http.post("/introspect", data={"token": "unknown"})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


def test_actor_header_labels_domain_events(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    as_server.http.post("/token", headers={"x-harness-actor": "tab-2"}, data={
        "grant_type": "authorization_code", "code": flow.code, "redirect_uri": flow.redirect_uri,
        "client_id": client_id, "code_verifier": flow.verifier})
    assert as_server.journal.entries("code_redeemed")[-1].actor == "tab-2"
