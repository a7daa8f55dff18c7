"""Where each discovery document lives, per ``knobs.layout``, and the documents the AS part does not own.

Layouts (see ``mock_as.knobs.Layout``):

========================  =====================================================================
default                   AS at the MCP origin's root; RFC 8414 and OIDC metadata at the root
                          well-known URLs; PRM path-aware at /.well-known/oauth-protected-resource/mcp
as_separate_origin        as default, but the AS (metadata and endpoints) on a second origin
issuer_path               issuer = origin + knobs.issuer_path; RFC 8414 path insertion
                          (/.well-known/oauth-authorization-server/tenant1) and both OIDC variants
oidc_only                 AS metadata only at /.well-known/openid-configuration
prm_root                  PRM only at the root /.well-known/oauth-protected-resource
prm_header_only           PRM only at a non-well-known path, named in WWW-Authenticate
legacy_2025_03_26         no PRM; AS metadata at the MCP origin; /authorize, /token, /register
========================  =====================================================================

``knobs.well_known_status`` overrides any path's answer (C23's fallback matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mock_as.context import Urls

if TYPE_CHECKING:
    from mock_as.context import ServerContext
    from mock_as.knobs import Knobs

MCP_PATH = "/mcp"
AS_WK = "/.well-known/oauth-authorization-server"
OIDC_WK = "/.well-known/openid-configuration"
PRM_WK = "/.well-known/oauth-protected-resource"
#: Where prm_header_only serves the PRM: deliberately not under /.well-known.
PRM_HEADER_ONLY_PATH = "/resource-metadata/mcp"


@dataclass(frozen=True)
class Plan:
    """The paths one layout serves. AS paths are on the AS origin, the others on the MCP origin."""

    layout: str
    issuer_prefix: str  # "" or e.g. "/tenant1": AS endpoints are mounted under it
    as_metadata_paths: tuple[str, ...]
    oidc_paths: tuple[str, ...]
    prm_path: str | None
    separate_as: bool
    second_as_path: str | None = None  # knobs.second_as_path: a second AS on the MCP origin (C26)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.layout, self.issuer_prefix, self.prm_path, self.separate_as, self.second_as_path)


def plan_for(knobs: Knobs) -> Plan:
    layout = knobs.layout
    prefix = knobs.issuer_path if layout == "issuer_path" else ""
    if prefix:
        as_paths: tuple[str, ...] = (AS_WK + prefix,)
        oidc_paths: tuple[str, ...] = (OIDC_WK + prefix, prefix + OIDC_WK)
    elif layout == "oidc_only":
        as_paths, oidc_paths = (), (OIDC_WK,)
    elif layout == "legacy_2025_03_26":
        as_paths, oidc_paths = (AS_WK,), ()
    else:
        as_paths, oidc_paths = (AS_WK,), (OIDC_WK,)
    prm: str | None = {
        "prm_root": PRM_WK,
        "prm_header_only": PRM_HEADER_ONLY_PATH,
        "legacy_2025_03_26": None,
    }.get(layout, PRM_WK + MCP_PATH)
    return Plan(layout, prefix, as_paths, oidc_paths, prm, layout == "as_separate_origin", knobs.second_as_path)


def compute_urls(knobs: Knobs, origin: str, as_origin: str | None) -> Urls:
    """The absolute URLs for a layout, given the bound origins (as_origin: the second server, if any)."""
    plan = plan_for(knobs)
    as_base = as_origin if plan.separate_as and as_origin else origin
    return Urls(origin=origin, as_origin=as_base, issuer=as_base + plan.issuer_prefix,
                resource=origin + MCP_PATH, prm=origin + plan.prm_path if plan.prm_path else None)


def classify_well_known(path: str) -> str | None:
    """The endpoint name of a discovery URL, served or not, so a client's probing order is journaled."""
    if path.startswith(AS_WK):
        return "as_metadata"
    if path.startswith(OIDC_WK) or path.endswith(OIDC_WK):
        return "oidc_metadata"
    if path.startswith(PRM_WK) or path == PRM_HEADER_ONLY_PATH:
        return "prm"
    return None


def protected_resource_metadata(ctx: ServerContext) -> dict[str, Any]:
    """The RFC 9728 document. ``authorization_servers`` and ``resource`` can be overridden by knobs."""
    assert ctx.urls is not None
    k = ctx.knobs
    doc: dict[str, Any] = {
        "resource": k.prm_resource or ctx.urls.resource,
        # an entry starting with "/" is a path on the MCP origin (the second AS: knobs.second_as_path)
        "authorization_servers": [ctx.urls.origin + s if s.startswith("/") else s
                                  for s in k.authorization_servers] or [ctx.urls.issuer],
        "scopes_supported": list(k.scopes_supported),
        "bearer_methods_supported": ["header"],
        "resource_name": "mock_as MCP server",
    }
    return doc


_HTML = ("<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}"
         "</h1></center><hr><center>nginx</center></body></html>\n")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def html_page(status: int) -> str:
    """A reverse proxy's error page: what a client sees when a gateway answers instead of the AS."""
    return _HTML.format(status=status, reason=_REASONS.get(status, "Error"))


def forced_status_for(knobs: Knobs, path: str) -> int | None:
    """The status ``knobs.well_known_status`` forces on this path (keys are paths or full URLs)."""
    table = knobs.well_known_status
    if not table:
        return None
    if path in table:
        return table[path]
    for key, status in table.items():
        if "://" in key and key.split("://", 1)[1].partition("/")[2] == path.lstrip("/"):
            return status
    return None
