"""The mock authorization server: OAuth 2.1 / RFC 6749 endpoints built on authlib's server-side pieces.

Public API (docs/contracts.md):

    build_authorization(ctx)       sets ctx.state (ASState) and ctx.keys (KeyRing)
    authorization_routes(ctx)      Starlette routes, paths relative to the issuer path
    authorization_metadata(ctx)    RFC 8414 document for ctx.urls.issuer
    openid_metadata(ctx)           OIDC discovery document

Every behaviour reads ``ctx.knobs`` at request time, and every time comes from ``ctx.clock``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mock_as.authorization.keys import KeyRing
from mock_as.authorization.metadata import authorization_metadata, openid_metadata
from mock_as.authorization.state import AccessCheck, ASState

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from mock_as.context import ServerContext


def build_authorization(ctx: ServerContext) -> None:
    """Give the context its authorization-server state and signing keys. Idempotent."""
    if ctx.keys is None:
        ctx.keys = KeyRing(lambda: ctx.knobs.signing_alg)
    if ctx.state is None:
        ctx.state = ASState(ctx)


def authorization_routes(ctx: ServerContext) -> list[BaseRoute]:
    """The AS routes, relative to the issuer path (mount them under it)."""
    from mock_as.authorization.endpoints import build_routes

    build_authorization(ctx)
    return build_routes(ctx)


__all__ = ["ASState", "AccessCheck", "KeyRing", "authorization_metadata", "authorization_routes",
           "build_authorization", "openid_metadata"]
