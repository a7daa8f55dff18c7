"""RFC 8414 authorization-server metadata and the OIDC discovery document, built from the knobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_as.context import ServerContext

AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]


def issuer_url(ctx: ServerContext) -> str:
    if ctx.urls is None:
        raise RuntimeError("ctx.urls is not set: the runner sets it once the sockets are bound")
    return ctx.urls.issuer


def endpoint_url(ctx: ServerContext, path: str) -> str:
    """An absolute URL for a path relative to the issuer (``/token`` -> ``{issuer}/token``)."""
    return issuer_url(ctx).rstrip("/") + path


def authorization_metadata(ctx: ServerContext) -> dict[str, Any]:
    """The RFC 8414 document for ``ctx.urls.issuer``. What is advertised follows the knobs."""
    k = ctx.knobs
    meta: dict[str, Any] = {
        "issuer": issuer_url(ctx),
        "authorization_endpoint": endpoint_url(ctx, "/authorize"),
        "token_endpoint": endpoint_url(ctx, k.token_endpoint_path),
        "jwks_uri": endpoint_url(ctx, "/jwks"),
        "revocation_endpoint": endpoint_url(ctx, "/revoke"),
        "introspection_endpoint": endpoint_url(ctx, "/introspect"),
        "scopes_supported": list(k.scopes_supported),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "client_id_metadata_document_supported": k.cimd,
    }
    if k.dcr:
        meta["registration_endpoint"] = endpoint_url(ctx, "/register")
    if k.advertise_pkce:
        meta["code_challenge_methods_supported"] = ["S256"]
    if k.advertise_iss_support:
        meta["authorization_response_iss_parameter_supported"] = True
    return meta


def openid_metadata(ctx: ServerContext) -> dict[str, Any]:
    """The OIDC discovery document: the same endpoints plus the fields OIDC requires."""
    meta = authorization_metadata(ctx)
    meta.update({
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ctx.knobs.signing_alg],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat"],
    })
    return meta
