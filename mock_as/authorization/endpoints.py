"""The Starlette handlers of the AS endpoints, and the route list (paths relative to the issuer).

Each handler reads its input asynchronously (and resolves a CIMD client_id, which may need a fetch),
then runs authlib synchronously under ``ASState.lock``: validation and consumption of a code or refresh
token happen in one critical section.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route, compile_path
from starlette.types import Scope

from mock_as.authorization.authlib_bridge import (
    BadRequest,
    BridgeOAuth2Request,
    error_response,
    form_request,
    json_request,
    to_response,
)
from mock_as.authorization.models import DEFAULT_SUBJECT
from mock_as.authorization.oauth_server import MockAuthorizationServer
from mock_as.authorization.registration import cimd_document, is_cimd_url, resolve_cimd
from mock_as.authorization.state import request_labels
from mock_as.journal import ACTOR_HEADER, redact

if TYPE_CHECKING:
    from mock_as.context import ServerContext

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
WRONG_ISSUER = "https://wrong-issuer.invalid"
Handler = Callable[[Request], Awaitable[Response]]


class KnobPathRoute(Route):
    """A route whose path is a knob (``token_endpoint_path``), re-read on every match."""

    def __init__(self, path_fn: Callable[[], str], endpoint: Handler, **kwargs: Any) -> None:
        self._path_fn = path_fn
        super().__init__(path_fn(), endpoint, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        current = self._path_fn()
        if current != self.path:
            self.path = current
            self.path_regex, self.path_format, self.param_convertors = compile_path(current)
        return super().matches(scope)


@contextlib.contextmanager
def _labels(request: Request) -> Iterator[None]:
    """Let domain events carry the exchange id and actor the middleware assigned (or the header)."""
    token = request_labels.set({"exchange": request.scope.get("mock_as.exchange"),
                                "actor": request.scope.get("mock_as.actor") or request.headers.get(ACTOR_HEADER)})
    try:
        yield
    finally:
        request_labels.reset(token)


def _method_not_allowed(allowed: str) -> Response:
    return error_response(405, "invalid_request", f"Use {allowed}.", headers={"Allow": allowed})


def _basic_client_id(request: Request) -> str | None:
    parts = request.headers.get("authorization", "").split(None, 1)
    if len(parts) == 2 and parts[0].lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
            return base64.b64decode(parts[1]).decode("utf-8").split(":", 1)[0] or None
    return None


class Handlers:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.server = MockAuthorizationServer(ctx)

    @property
    def state(self) -> Any:
        return self.ctx.state

    async def _ensure_cimd(self, client_id: str | None, refresh: bool = False) -> None:
        """Fetch a URL client_id's document before authlib (synchronous) looks the client up."""
        if self.ctx.knobs.cimd and is_cimd_url(client_id) and (refresh or client_id not in self.state.cimd_clients):
            await resolve_cimd(self.ctx, client_id or "")

    def _iss_params(self) -> list[tuple[str, str]]:
        mode = self.ctx.knobs.iss_in_callback
        if mode == "omitted" or self.ctx.urls is None:
            return []
        return [("iss", self.ctx.urls.issuer if mode == "correct" else WRONG_ISSUER)]

    def _redirect(self, location: str) -> Response:
        return Response(status_code=302, headers={"Location": add_params_to_uri(location, self._iss_params()),
                                                  "Cache-Control": "no-store"})

    # -- /authorize -------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        with _labels(request):
            if request.method not in ("GET", "HEAD", "POST"):
                return _method_not_allowed("GET, POST")
            try:
                oreq = await form_request(request, allow_query=True)
            except BadRequest as exc:
                return exc.response()
            await self._ensure_cimd(oreq.payload.client_id, refresh=True)
            with self.state.lock:
                return self._authorize(oreq)

    def _authorize(self, oreq: BridgeOAuth2Request) -> Response:
        payload = oreq.payload
        flow = payload.state
        try:
            grant = self.server.get_consent_grant(oreq)
        except OAuth2Error as err:
            err.state = flow
            self.state.event("authorize_refused", endpoint="authorize", client_id=payload.client_id, flow=flow,
                             error=err.error, error_description=err.description, redirected=bool(err.redirect_uri))
            status, body, headers = err()
            if err.redirect_uri:
                return self._redirect(dict(headers)["Location"])
            # RFC 6749 4.1.2.1: an unknown client or an unregistered redirect_uri gets an error page.
            return to_response(status, body, headers)
        redirect_uri = grant.redirect_uri
        client_id = grant.request.client.client_id
        fault = self.ctx.faults.take("authorize", dict(payload.data), actions=("callback_error",))
        if fault is not None:
            params = [("error", fault.error or "server_error")]
            if fault.error_description:
                params.append(("error_description", fault.error_description))
            if flow:
                params.append(("state", flow))
            self.state.event("fault_injected", endpoint="authorize", client_id=client_id, flow=flow,
                             action="callback_error", error=fault.error, fault_id=fault.id)
            return self._redirect(add_params_to_uri(redirect_uri, params))
        knobs = self.ctx.knobs
        advance = getattr(self.ctx.clock, "advance", None)
        if knobs.consent_delay_s and advance is not None:
            advance(knobs.consent_delay_s)  # the user took this long to consent; the code is issued after it
        self.state.event("consent", endpoint="authorize", client_id=client_id, flow=flow, outcome=knobs.consent,
                         delay_s=knobs.consent_delay_s, scope=grant.request.scope,
                         resource=payload.data.get("resource"))
        user = DEFAULT_SUBJECT if knobs.consent == "approve" else None
        try:
            status, body, headers = grant.create_authorization_response(redirect_uri, user)
        except OAuth2Error as err:  # access_denied on deny, redirected with state
            err.state = flow
            status, body, headers = err()
        return self._redirect(dict(headers)["Location"])

    # -- token endpoint ---------------------------------------------------------------------------

    async def _read_post_form(self, request: Request) -> BridgeOAuth2Request | Response:
        """The form of a POST to a token-style endpoint, with its CIMD client resolved; or the error to send."""
        if request.method != "POST":
            return _method_not_allowed("POST")
        try:
            oreq = await form_request(request)
        except BadRequest as exc:
            return exc.response()
        await self._ensure_cimd(oreq.payload.client_id or _basic_client_id(request))
        return oreq

    async def token(self, request: Request) -> Response:
        with _labels(request):
            oreq = await self._read_post_form(request)
            if isinstance(oreq, Response):
                return oreq
            client_id = oreq.payload.client_id or _basic_client_id(request)
            with self.state.lock:
                status, body, headers = self.server.create_token_response(oreq)
                if status >= 400:
                    self._journal_refusal(oreq, client_id, body)
            return to_response(status, body, headers)

    def _journal_refusal(self, oreq: BridgeOAuth2Request, client_id: str | None, body: Any) -> None:
        data = oreq.payload.data
        grant_type = data.get("grant_type")
        flow = family = None
        fields: dict[str, Any] = {}
        if grant_type == "authorization_code" and data.get("code"):
            fields["code"] = redact(data["code"])
            if code := self.state.codes.get(data["code"]):
                flow, family = code.flow, code.family_id
        if grant_type == "refresh_token" and data.get("refresh_token"):
            fields["refresh_token"] = redact(data["refresh_token"])
            if rt := self.state.refresh_tokens.get(data["refresh_token"]):
                fam = self.state.families.get(rt.family_id)
                family, flow = rt.family_id, fam.flow if fam else None
                fields["generation"] = rt.generation
        err = body if isinstance(body, dict) else {}
        self.state.event("token_refused", client_id=client_id, flow=flow, family=family, grant_type=grant_type,
                         error=err.get("error"), error_description=err.get("error_description"),
                         resource=data.get("resource"), **fields)

    # -- registration, revocation, introspection --------------------------------------------------

    async def register(self, request: Request) -> Response:
        with _labels(request):
            if not self.ctx.knobs.dcr:
                return error_response(404, "invalid_request", "Dynamic client registration is not supported.")
            if request.method != "POST":
                return _method_not_allowed("POST")
            try:
                jreq = await json_request(request)
            except BadRequest as exc:
                return exc.response()
            with self.state.lock:
                status, body, headers = self.server.create_endpoint_response("client_registration", jreq)
            if status >= 400:
                self.state.event("registration_refused", endpoint="register", error=body.get("error"),
                                 error_description=body.get("error_description"))
            return to_response(status, body, headers)

    async def _token_endpoint(self, request: Request, name: str) -> Response:
        with _labels(request):
            oreq = await self._read_post_form(request)
            if isinstance(oreq, Response):
                return oreq
            with self.state.lock:
                status, body, headers = self.server.create_endpoint_response(name, oreq)
            return to_response(status, body, headers)

    async def revoke(self, request: Request) -> Response:
        return await self._token_endpoint(request, "revocation")

    async def introspect(self, request: Request) -> Response:
        return await self._token_endpoint(request, "introspection")

    # -- documents --------------------------------------------------------------------------------

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.ctx.keys.jwks(), headers={"Cache-Control": "no-store"})

    async def cimd(self, request: Request) -> Response:
        doc = cimd_document(self.ctx, request.path_params["name"])
        if doc is None:
            return error_response(404, "not_found", "No client metadata document is published under that name.")
        return JSONResponse(doc)


def build_routes(ctx: ServerContext) -> list[BaseRoute]:
    h = Handlers(ctx)
    return [
        Route("/authorize", h.authorize, methods=ALL_METHODS, name="authorize"),
        KnobPathRoute(lambda: ctx.knobs.token_endpoint_path, h.token, methods=ALL_METHODS, name="token"),
        Route("/register", h.register, methods=ALL_METHODS, name="register"),
        Route("/revoke", h.revoke, methods=ALL_METHODS, name="revoke"),
        Route("/introspect", h.introspect, methods=ALL_METHODS, name="introspect"),
        Route("/jwks", h.jwks, methods=["GET", "HEAD"], name="jwks"),
        Route("/cimd/{name}", h.cimd, methods=["GET", "HEAD"], name="cimd"),
    ]
