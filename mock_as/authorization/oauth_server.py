"""The authlib ``AuthorizationServer`` the endpoints drive, plus RFC 7009 and RFC 7662 endpoints.

Framework-neutral: requests arrive already converted by ``authlib_bridge`` and responses leave as
authlib's ``(status, body, headers)`` tuples, which the bridge turns into Starlette responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from mock_as.authorization.grants import (
    AUTH_METHODS,
    InvalidTargetError,
    MockCodeGrant,
    MockRefreshGrant,
    S256Required,
)
from mock_as.authorization.models import AccessToken, Client, TokenView
from mock_as.authorization.registration import MockRegistrationEndpoint
from mock_as.authorization.state import ASState, ClientExpired

if TYPE_CHECKING:
    from mock_as.context import ServerContext


class MockAuthorizationServer(AuthorizationServer):
    def __init__(self, ctx: ServerContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.register_grant(MockCodeGrant, [S256Required(required=True)])
        self.register_grant(MockRefreshGrant)
        self.register_endpoint(MockRevocationEndpoint)
        self.register_endpoint(MockIntrospectionEndpoint)
        self.register_endpoint(MockRegistrationEndpoint(self))

    @property
    def state(self) -> ASState:
        return self.ctx.state

    # -- authlib's framework hooks ----------------------------------------------------------------

    def query_client(self, client_id: str | None) -> Client | None:
        try:
            return self.state.query_client(client_id)
        except ClientExpired:
            self.state.event("client_expired", client_id=client_id,
                             expire_client_after_s=self.ctx.knobs.expire_client_after_s)
            raise InvalidClientError(status_code=401, description="The client registration has expired.") from None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Tokens are stored as they are minted (ASState); nothing left to do."""

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # already an OAuth2Request (authlib_bridge)

    def create_json_request(self, request: Any) -> Any:
        return request  # already a JsonRequest (authlib_bridge)

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        # authlib's version echoes the response_type into the error description and crashes on a
        # quote or backslash in it; same logic, neutral text.
        for grant_cls, extensions in self._authorization_grants:
            if grant_cls.check_authorization_endpoint(request):
                grant = grant_cls(request, self)
                for ext in extensions or []:
                    ext(grant)
                return grant
        redirect_uri = None
        client = self.query_client(request.payload.client_id)
        if client is not None:
            requested = request.payload.redirect_uri
            if requested and client.check_redirect_uri(requested):
                redirect_uri = requested
            elif not requested:
                redirect_uri = client.get_default_redirect_uri()
        raise UnsupportedResponseTypeError(
            request.payload.response_type, "Only response_type=code is supported.", redirect_uri=redirect_uri)

    # -- knobs ------------------------------------------------------------------------------------

    def audience(self) -> str | None:
        """The audience of issued access tokens: the canonical MCP resource URI."""
        return self.ctx.urls.resource if self.ctx.urls else None

    def check_resource(self, value: str | None, phase: str) -> None:
        """RFC 8707 per ``resource_policy``; values are compared as exact strings with ctx.urls.resource."""
        policy = self.ctx.knobs.resource_policy
        expected = self.audience()
        if policy == "require" and value != expected:
            what = "missing" if value is None else "not this server's resource"
            raise InvalidTargetError(f"The resource parameter is required and must name the MCP server ({what}).")
        if policy == "reject_on_refresh" and phase == "refresh" and value is not None:
            raise InvalidTargetError("The resource parameter is not allowed on a refresh request.")


class UnsupportedTokenType(OAuth2Error):
    """RFC 7009 2.2.1: a 400 error response (authlib's own class answers 401 with a challenge)."""

    error = "unsupported_token_type"


def _check_token_params(request: Any, supported: tuple[str, ...]) -> None:
    if "token" not in request.form:
        raise InvalidRequestError("Missing 'token' in request.")
    hint = request.form.get("token_type_hint")
    if hint and hint not in supported:
        raise UnsupportedTokenType("token_type_hint must be access_token or refresh_token.")


class MockRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    server: MockAuthorizationServer

    def check_params(self, request: Any, client: Client) -> None:
        _check_token_params(request, self.SUPPORTED_TOKEN_TYPES)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return self.server.state.lookup_token(token_string, token_type_hint)

    def revoke_token(self, token: TokenView, request: Any) -> None:
        self.server.state.revoke_token(token)


class MockIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    server: MockAuthorizationServer

    def check_params(self, request: Any, client: Client) -> None:
        _check_token_params(request, self.SUPPORTED_TOKEN_TYPES)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return self.server.state.lookup_token(token_string, token_type_hint)

    def check_permission(self, token: TokenView, client: Client, request: Any) -> bool:
        return True  # any authenticated client of this mock may introspect

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        rec = token.record
        fam = self.server.state.families.get(rec.family_id or "")
        body: dict[str, Any] = {"active": True, "client_id": rec.client_id, "scope": rec.scope,
                                "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
                                "iss": self.server.ctx.urls.issuer if self.server.ctx.urls else None,
                                "sub": fam.sub if fam else None, "iat": int(rec.issued_at)}
        if isinstance(rec, AccessToken):
            body.update(exp=int(rec.expires_at), aud=rec.aud, jti=rec.jti)
        elif rec.expires_at is not None:
            body["exp"] = int(rec.expires_at)
        return {k: v for k, v in body.items() if v is not None}
