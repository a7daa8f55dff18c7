"""authlib's authorization-code and refresh-token grants, with the mock's knobs wired in.

authlib still does the protocol work: client authentication, request validation, PKCE verification,
redirect_uri binding, refresh scope narrowing and error serialization. The subclasses store records in
``ASState`` and hand refresh redemption to ``ASState.redeem_refresh`` (rotation, reuse, grace).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge

from mock_as.authorization.models import DEFAULT_SUBJECT, AuthCode, Client, RefreshToken
from mock_as.journal import redact

if TYPE_CHECKING:
    from mock_as.authorization.oauth_server import MockAuthorizationServer

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class InvalidTargetError(OAuth2Error):
    """RFC 8707 section 2: the requested resource is invalid, unknown or not allowed here."""

    error = "invalid_target"


class S256Required(CodeChallenge):
    """PKCE as OAuth 2.1 and MCP want it: a challenge on every request, S256 only (plain is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256; plain and a missing method are refused.")
        super().validate_code_challenge(grant, redirect_uri)


class MockCodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: MockAuthorizationServer

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Client) -> str:
        # authlib's own messages echo the URI, and authlib refuses to build an error whose text holds
        # a quote or backslash; a hostile redirect_uri must give an error page, not a crash.
        uri = request.payload.redirect_uri
        if uri:
            if not client.check_redirect_uri(uri):
                raise InvalidRequestError("The redirect_uri is not registered for this client.")
            return uri
        default = client.get_default_redirect_uri()
        if not default:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        return default

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        try:
            self.server.check_resource(self.request.payload.data.get("resource"), "authorize")
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        state = self.server.state
        now = state.now()
        data = request.payload.data
        rec = AuthCode(code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
                       scope=request.scope or "", resource=data.get("resource"),
                       code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
                       flow=request.payload.state, sub=DEFAULT_SUBJECT, issued_at=now,
                       expires_at=now + self.server.ctx.knobs.code_ttl)
        state.save_code(rec)
        state.event("code_issued", endpoint="authorize", client_id=rec.client_id, flow=rec.flow,
                    code=redact(code), redirect_uri=rec.redirect_uri, resource=rec.resource, scope=rec.scope,
                    code_challenge=redact(rec.code_challenge))

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        state = self.server.state
        knobs = self.server.ctx.knobs
        rec = state.codes.get(code)
        if rec is None:
            raise InvalidGrantError("Unknown authorization code.")
        if rec.client_id != client.client_id and knobs.enforce_client_id:
            # RFC 6749 section 4.1.3: the code is bound to the client it was issued to.
            raise InvalidClientError(status_code=401, description="The code was issued to another client.")
        if rec.used_at is not None:
            state.event("code_replayed", client_id=client.client_id, flow=rec.flow, family=rec.family_id,
                        code=redact(code), grant_type="authorization_code", first_used_at=rec.used_at,
                        issued_to=rec.client_id)
            fam = state.families.get(rec.family_id or "")
            if knobs.revoke_tokens_on_code_replay and fam is not None:
                state.revoke_family(fam, reason="code_replay")
            raise InvalidGrantError("The authorization code was already used.")
        if state.now() >= rec.expires_at:
            raise InvalidGrantError("The authorization code has expired.")
        return rec

    def validate_token_request(self) -> None:
        super().validate_token_request()
        self.server.check_resource(self.request.form.get("resource"), "code")

    def authenticate_user(self, authorization_code: AuthCode) -> str:
        return authorization_code.sub

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        authorization_code.used_at = self.server.state.now()

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        state = self.server.state
        client: Client = self.request.client
        code: AuthCode = self.request.authorization_code
        with state.lock:
            self.delete_authorization_code(code)
            fam = state.new_family(client.client_id, code.sub, code.scope, self.server.audience(), code.flow)
            code.family_id = fam.id
            include_rt = self.server.ctx.knobs.issue_refresh_tokens and client.check_grant_type("refresh_token")
            rt = state.new_refresh_token(fam, code.scope) if include_rt else None
            body = state.token_response(fam, code.scope, rt.token if rt else None)
        ev = {"client_id": client.client_id, "flow": code.flow, "family": fam.id, "grant_type": "authorization_code",
              "code": redact(code.code), "redirect_uri": code.redirect_uri, "resource": fam.resource,
              "scope": code.scope}
        state.event("code_redeemed", **ev)
        state.event("token_issued", access_token=redact(body["access_token"]),
                    refresh_token=redact(body.get("refresh_token")), new_generation=rt.generation if rt else None,
                    **ev)
        return 200, body, self.TOKEN_RESPONSE_HEADER


class MockRefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: MockAuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        # Every known token is returned; whether it may still be used is ASState.redeem_refresh's call.
        return self.server.state.refresh_tokens.get(refresh_token)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        self.server.check_resource(self.request.form.get("resource"), "refresh")

    def authenticate_user(self, refresh_token: RefreshToken) -> str:
        fam = self.server.state.families.get(refresh_token.family_id)
        return fam.sub if fam else DEFAULT_SUBJECT

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        rt: RefreshToken = self.request.refresh_token
        scope = self.request.payload.scope or rt.scope
        body = self.server.state.redeem_refresh(rt, scope)
        return 200, body, self.TOKEN_RESPONSE_HEADER
