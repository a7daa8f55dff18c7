"""Client registration: RFC 7591 dynamic registration, and client ID metadata documents (CIMD).

CIMD: a client_id that is an https URL (or an http URL on a loopback host) names a JSON document that
describes the client. Documents published with ``ASState.publish_cimd`` are served at ``/cimd/{name}``
and resolved in-process (fetching our own URL from inside our event loop would deadlock the loop);
anything else is fetched with httpx, with a short timeout.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7591.errors import OAuth2Error

from mock_as.authorization.metadata import authorization_metadata, endpoint_url
from mock_as.authorization.models import DEFAULT_GRANT_TYPES, Client, is_loopback_host

if TYPE_CHECKING:
    from mock_as.authorization.oauth_server import MockAuthorizationServer
    from mock_as.context import ServerContext

CIMD_FETCH_TIMEOUT_S = 3.0
REGISTRATION_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
_LIST_FIELDS = ("redirect_uris", "grant_types", "response_types", "contacts")
_STR_FIELDS = ("token_endpoint_auth_method", "client_name", "client_uri", "logo_uri", "scope", "tos_uri",
               "policy_uri", "jwks_uri", "software_id", "software_version", "application_type")


class InvalidRedirectUriError(OAuth2Error):
    error = "invalid_redirect_uri"


def check_metadata_types(data: dict[str, Any]) -> None:
    """Shape checks authlib's claim validators assume (they crash on a string where a list belongs)."""
    for name in _LIST_FIELDS:
        if name in data and (not isinstance(data[name], list) or not all(isinstance(v, str) for v in data[name])):
            raise InvalidClientMetadataError(f"{name} must be an array of strings.")
    for name in _STR_FIELDS:
        if name in data and not isinstance(data[name], str):
            raise InvalidClientMetadataError(f"{name} must be a string.")
    if "jwks" in data and not isinstance(data["jwks"], dict):
        raise InvalidClientMetadataError("jwks must be a JSON object.")


class MockRegistrationEndpoint(ClientRegistrationEndpoint):
    server: MockAuthorizationServer

    def authenticate_token(self, request: Any) -> bool:
        return True  # open registration, as MCP clients expect

    def get_server_metadata(self) -> dict[str, Any]:
        meta = authorization_metadata(self.server.ctx)
        meta.pop("scopes_supported", None)  # lenient: any scope may be registered
        return meta

    def extract_client_metadata(self, request: Any) -> dict[str, Any]:
        data = request.payload.data
        check_metadata_types(data)
        uris = data.get("redirect_uris")
        if not uris:
            raise InvalidRedirectUriError("redirect_uris is required for the authorization code flow.")
        if self.server.ctx.knobs.require_application_type and "application_type" not in data:
            raise InvalidClientMetadataError("application_type is required by this server.")
        if data.get("application_type", "native") not in ("native", "web"):
            raise InvalidClientMetadataError("application_type must be native or web.")
        if data.get("token_endpoint_auth_method", "client_secret_basic") not in REGISTRATION_AUTH_METHODS:
            raise InvalidClientMetadataError("token_endpoint_auth_method must be none, client_secret_basic "
                                             "or client_secret_post.")
        meta = super().extract_client_metadata(request)
        if "application_type" in data:
            meta["application_type"] = data["application_type"]
        return meta

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        info = super().generate_client_info(request)
        info["client_id_issued_at"] = int(self.server.state.now())
        method = request.payload.data.get("token_endpoint_auth_method", "client_secret_basic")
        if method == "none":
            info.pop("client_secret", None)
            info.pop("client_secret_expires_at", None)
        return info

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any) -> Client:
        state = self.server.state
        method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
        client_metadata.setdefault("token_endpoint_auth_method", method)
        client = Client(client_id=client_info["client_id"], kind="dcr",
                        redirect_uris=list(client_metadata["redirect_uris"]),
                        client_secret=client_info.get("client_secret"), token_endpoint_auth_method=method,
                        grant_types=list(client_metadata.get("grant_types") or DEFAULT_GRANT_TYPES),
                        response_types=list(client_metadata.get("response_types") or ["code"]),
                        scope=client_metadata.get("scope"), registered_at=state.now(),
                        metadata=dict(client_metadata))
        state.add_client(client)
        state.event("client_registered", endpoint="register", client_id=client.client_id, method="dcr",
                    redirect_uris=client.redirect_uris, token_endpoint_auth_method=method,
                    client_name=client_metadata.get("client_name"),
                    application_type=client_metadata.get("application_type"), grant_types=client.grant_types)
        return client


# -- CIMD --------------------------------------------------------------------------------------------

def is_cimd_url(client_id: str | None) -> bool:
    """https with a path, or http on a loopback host (for local testing)."""
    if not client_id or "://" not in client_id:
        return False
    try:
        parts = urlsplit(client_id)
    except ValueError:
        return False
    if parts.fragment or parts.username or parts.password or not parts.hostname:
        return False
    if parts.scheme == "https":
        return parts.path not in ("", "/")
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


def local_cimd_name(ctx: ServerContext, url: str) -> str | None:
    """The published document's name when ``url`` is one of our own /cimd/{name} URLs."""
    if ctx.urls is None:
        return None
    prefix = endpoint_url(ctx, "/cimd/")
    return url[len(prefix):] if url.startswith(prefix) and "/" not in url[len(prefix):] else None


def cimd_document(ctx: ServerContext, name: str) -> dict[str, Any] | None:
    """A published document as served, with client_id defaulting to its own URL."""
    doc = ctx.state.cimd_documents.get(name)
    if doc is None:
        return None
    return {"client_id": endpoint_url(ctx, f"/cimd/{name}"), **doc}


async def resolve_cimd(ctx: ServerContext, url: str) -> Client | None:
    """Fetch, validate and cache the metadata document a URL client_id names. None when unusable."""
    state = ctx.state
    if not ctx.knobs.cimd or not is_cimd_url(url):
        return None
    name = local_cimd_name(ctx, url)
    error: str | None = None
    doc: Any = None
    if name is not None:
        doc = cimd_document(ctx, name)
        if doc is None:
            error = "no such published document"
    else:
        try:
            async with httpx.AsyncClient(timeout=CIMD_FETCH_TIMEOUT_S, follow_redirects=False) as http:
                resp = await http.get(url, headers={"accept": "application/json"})
            if resp.status_code != 200:
                error = f"HTTP {resp.status_code}"
            else:
                doc = json.loads(resp.content)
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    client = None if error else _client_from_document(url, doc)
    if client is None and not error:
        error = "invalid document: needs client_id equal to its URL, redirect_uris, auth method none"
    state.event("cimd_fetched", endpoint="cimd", client_id=url, ok=client is not None, error=error,
                in_process=name is not None)
    if client is not None:
        client.registered_at = state.now()
        state.add_client(client)
    else:
        with state.lock:
            state.cimd_clients.pop(url, None)  # a document that went bad takes the cached client with it
    return client


def _client_from_document(url: str, doc: Any) -> Client | None:
    if not isinstance(doc, dict) or doc.get("client_id") != url:
        return None
    try:
        check_metadata_types(doc)
    except InvalidClientMetadataError:
        return None
    method = doc.get("token_endpoint_auth_method", "none")
    if not doc.get("redirect_uris") or method != "none":
        return None
    return Client(client_id=url, kind="cimd", redirect_uris=list(doc["redirect_uris"]),
                  token_endpoint_auth_method="none",
                  grant_types=list(doc.get("grant_types") or DEFAULT_GRANT_TYPES),
                  response_types=list(doc.get("response_types") or ["code"]), scope=doc.get("scope"),
                  metadata=dict(doc))
