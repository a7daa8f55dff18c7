"""Pure discovery helpers: URL orders per revision, WWW-Authenticate parsing, resource matching."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

PRM_WK = "/.well-known/oauth-protected-resource"
AS_WK = "/.well-known/oauth-authorization-server"
OIDC_WK = "/.well-known/openid-configuration"


def canonical_resource(url: str) -> str:
    """RFC 8707 / MCP canonical URI: lower-case scheme and host, no fragment, no trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))


def path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def prm_well_known_urls(server_url: str) -> list[tuple[str, str]]:
    """PRM-2: the path-aware well-known URL first (when the server has a path), then the root."""
    origin, path = origin_of(server_url), path_of(server_url)
    out = [(origin + PRM_WK + path, "path")] if path else []
    out.append((origin + PRM_WK, "root"))
    return out


def as_metadata_urls(issuer: str) -> list[str]:
    """ASM-2 (2025-11-25 and later; also used for 2025-06-18, whose first URL is the same RFC 8414 one).

    With a path: oauth-authorization-server/<path>, openid-configuration/<path>,
    <path>/.well-known/openid-configuration. Without: oauth-authorization-server, openid-configuration.
    """
    origin, path = origin_of(issuer), path_of(issuer)
    if path:
        return [origin + AS_WK + path, origin + OIDC_WK + path, origin + path + OIDC_WK]
    return [origin + AS_WK, origin + OIDC_WK]


def legacy_metadata_urls(server_url: str) -> list[str]:
    """LEG-1 (2025-03-26): AS metadata at the MCP server's origin ("authorization base URL")."""
    return [origin_of(server_url) + AS_WK]


def prm_resource_matches(resource: str | None, server_url: str, kind: str) -> bool:
    """RFC 9728 3.3 / PRM-3: the PRM ``resource`` is the URL the client connected to.

    A root PRM (``kind == "root"``) describes the origin, so the origin is accepted there too.
    Compared as canonical URIs (scheme and host case, trailing slash).
    """
    if not resource:
        return False
    got = canonical_resource(resource)
    if got == canonical_resource(server_url):
        return True
    return kind == "root" and got == origin_of(server_url)


def issuer_matches(got: str | None, expected: str, *, exact: bool) -> bool:
    """ASM-3: the metadata ``issuer`` equals the issuer used to build the URL (exact from 2026-07-28)."""
    if not got:
        return False
    return got == expected if exact else got.rstrip("/") == expected.rstrip("/")


# -- WWW-Authenticate (RFC 6750 3, RFC 9728 5.1) -------------------------------------------------------
_PARAM = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,"]+)\s*,?')
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_\-]*)(?=\s|,|$)")


@dataclass
class Challenge:
    """One ``Bearer`` challenge. A bare ``Bearer`` has no params and falls back to well-known URLs (C23)."""

    scheme: str = "Bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope") or None

    @property
    def resource_metadata(self) -> str | None:
        return self.params.get("resource_metadata") or None


def parse_www_authenticate(values: list[str] | str | None) -> Challenge | None:
    """The first Bearer challenge among the header values, or None."""
    if not values:
        return None
    if isinstance(values, str):
        values = [values]
    for value in values:
        pos, n = 0, len(value)
        while pos < n:
            m = _SCHEME.match(value, pos)
            if not m:
                pos += 1
                continue
            scheme = m.group(1)
            pos = m.end()
            params: dict[str, str] = {}
            while pos < n:
                pm = _PARAM.match(value, pos)
                if not pm:
                    break
                raw = pm.group(3) if pm.group(3) is not None else pm.group(2)
                params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", raw)
                pos = pm.end()
            if scheme.lower() == "bearer":
                return Challenge(scheme=scheme, params=params)
            while pos < n and value[pos] in ", ":
                pos += 1
    return None
