"""The Starlette <-> authlib adapter (authlib has no Starlette server integration).

The body is read asynchronously first and parsed here, with our own error for what authlib would choke
on (non-UTF-8, JSON where a form is expected, a non-object JSON body). Then authlib runs synchronously
on plain ``OAuth2Request`` / ``JsonRequest`` objects, and its ``(status, body, headers)`` tuples become
Starlette responses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import JsonPayload, JsonRequest, OAuth2Payload, OAuth2Request
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

FORM_TYPE = "application/x-www-form-urlencoded"


class BadRequest(Exception):
    """Input too broken to hand to authlib. Rendered as an RFC 6749 / 7591 error JSON."""

    def __init__(self, description: str, error: str = "invalid_request", status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self, state: str | None = None) -> Response:
        return error_response(self.status, self.error, self.description, state=state)


def error_response(status: int, error: str, description: str | None = None, state: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    if state:
        body["state"] = state
    hdrs = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=hdrs)


class FormPayload(OAuth2Payload):
    """Parsed form or query parameters: ``data`` holds first values, ``datalist`` every value."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        lists: defaultdict[str, list[str]] = defaultdict(list)
        for k, v in items:
            lists[k].append(v)
        self._datalist = lists
        self._data = {k: v[0] for k, v in lists.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class BridgeOAuth2Request(OAuth2Request):
    """An authlib request built from an already-read Starlette request.

    authlib's constructor refuses http:// URIs unless AUTHLIB_INSECURE_TRANSPORT is set process-wide;
    a loopback mock is plain http by design, so the transport check is skipped here instead.
    """

    def __init__(self, method: str, uri: str, headers: Any, payload: FormPayload,
                 query: FormPayload | None = None) -> None:
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self.payload = payload
        self._args = (query or payload).data
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class BridgeJsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class BridgeJsonRequest(JsonRequest):
    def __init__(self, method: str, uri: str, headers: Any, data: dict[str, Any]) -> None:
        super().__init__(method, uri, headers)
        self.payload = BridgeJsonPayload(data)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_basic_auth(request: Request) -> None:
    """authlib decodes HTTP Basic credentials as UTF-8 without catching the error; refuse those first."""
    auth = request.headers.get("authorization", "")
    parts = auth.split(None, 1)
    if len(parts) == 2 and parts[0].lower() == "basic":
        try:
            base64.b64decode(parts[1]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequest("Malformed HTTP Basic credentials.", "invalid_client", 401) from None


async def form_request(request: Request, *, allow_query: bool = False) -> BridgeOAuth2Request:
    """Read an application/x-www-form-urlencoded body (or, with allow_query on GET, the query string)."""
    check_basic_auth(request)
    query = FormPayload(list(request.query_params.multi_items()))
    if allow_query and request.method in ("GET", "HEAD"):
        return BridgeOAuth2Request(request.method, str(request.url), request.headers, query, query)
    body = await request.body()
    media = _media_type(request)
    if body and media != FORM_TYPE:
        raise BadRequest(f"The body must be {FORM_TYPE}" + (f", not {media}." if media else "."))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8.") from None
    try:
        items = parse_qsl(text, keep_blank_values=True, max_num_fields=200)
    except ValueError:
        raise BadRequest("The form body could not be parsed.") from None
    return BridgeOAuth2Request(request.method, str(request.url), request.headers, FormPayload(items), query)


async def json_request(request: Request) -> BridgeJsonRequest:
    """Read a JSON object body (RFC 7591 registration requests)."""
    body = await request.body()
    media = _media_type(request)
    if media != "application/json" and not media.endswith("+json"):
        raise BadRequest("The registration request must be application/json.", "invalid_client_metadata")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The body is not valid JSON.", "invalid_client_metadata") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", "invalid_client_metadata")
    return BridgeJsonRequest(request.method, str(request.url), request.headers, data)


def to_response(status: int, body: Any, headers: list[tuple[str, str]] | dict[str, str] | None) -> Response:
    """authlib's ``(status, body, headers)`` as a Starlette response."""
    hdrs = dict(headers or [])
    hdrs.pop("Content-Type", None)
    hdrs.pop("content-type", None)
    if isinstance(body, dict):
        return JSONResponse(body, status_code=status, headers=hdrs)
    return Response(body or b"", status_code=status, headers=hdrs)
