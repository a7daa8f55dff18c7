"""Discovery: protected resource metadata (RFC 9728) and authorization server metadata (RFC 8414 / OIDC).

Order and stop rules per revision (PRM-1/2, ASM-1/2, LEG-1, C23): try the ``resource_metadata`` URL of
the challenge, then the path-aware and root well-known URLs; continue on 4xx, stop on 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from client_under_test.reference.config import revision_at_least
from client_under_test.reference.core import ClientCore
from client_under_test.reference.discovery_urls import (
    Challenge,
    as_metadata_urls,
    issuer_matches,
    legacy_metadata_urls,
    origin_of,
    prm_resource_matches,
    prm_well_known_urls,
)
from client_under_test.reference.errors import (
    DiscoveryError,
    MetadataRejected,
    PKCEUnsupported,
    ResourceMismatch,
    TransientError,
)


@dataclass
class AuthServerMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None = None
    scopes_supported: list[str] | None = None
    code_challenge_methods_supported: list[str] | None = None
    token_endpoint_auth_methods_supported: list[str] | None = None
    iss_parameter_supported: bool = False
    cimd_supported: bool = False
    source_url: str | None = None
    #: True when no metadata was found and the 2025-03-26 default endpoints are used (LEG-1).
    legacy_defaults: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any], source_url: str) -> AuthServerMetadata:
        return cls(
            issuer=str(doc.get("issuer") or ""),
            authorization_endpoint=str(doc.get("authorization_endpoint") or ""),
            token_endpoint=str(doc.get("token_endpoint") or ""),
            registration_endpoint=doc.get("registration_endpoint"),
            scopes_supported=_str_list(doc.get("scopes_supported")),
            code_challenge_methods_supported=_str_list(doc.get("code_challenge_methods_supported")),
            token_endpoint_auth_methods_supported=_str_list(doc.get("token_endpoint_auth_methods_supported")),
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
            cimd_supported=doc.get("client_id_metadata_document_supported") is True,
            source_url=source_url, raw=dict(doc))

    @classmethod
    def legacy(cls, server_url: str) -> AuthServerMetadata:
        base = origin_of(server_url)
        return cls(issuer=base, authorization_endpoint=base + "/authorize", token_endpoint=base + "/token",
                   registration_endpoint=base + "/register", legacy_defaults=True)


def _str_list(value: Any) -> list[str] | None:
    return [str(v) for v in value] if isinstance(value, list) else None


@dataclass
class AuthTarget:
    """What discovery found for one server: the resource, its PRM, and the AS to use."""

    resource: str
    asm: AuthServerMetadata
    prm: dict[str, Any] | None = None
    prm_url: str | None = None
    challenge_scope: str | None = None

    @property
    def prm_scopes(self) -> list[str] | None:
        return _str_list((self.prm or {}).get("scopes_supported"))


class DiscoveryMixin(ClientCore):
    @property
    def _asm_cache(self) -> dict[str, AuthServerMetadata]:
        """AS metadata by issuer, for this client instance (a restart rediscovers or uses the token record)."""
        return self.__dict__.setdefault("_asm_cache_d", {})

    # -- overridable decisions ----------------------------------------------------------------------
    def _prm_urls(self, challenge: Challenge | None) -> list[tuple[str, str]]:
        """Candidate PRM URLs with their kind (header | path | root), in order (PRM-1/2, C23)."""
        urls: list[tuple[str, str]] = []
        if challenge is not None and challenge.resource_metadata:
            urls.append((challenge.resource_metadata, "header"))
        urls.extend(u for u in prm_well_known_urls(self.server_url) if u[0] not in {x for x, _ in urls})
        return urls

    def _as_metadata_urls(self, issuer: str) -> list[str]:
        """Candidate AS metadata URLs in the revision's order (ASM-2, LEG-1, C23)."""
        if self.config.revision == "2025-03-26":
            return legacy_metadata_urls(self.server_url)
        return as_metadata_urls(issuer)

    def _continue_discovery(self, status: int) -> bool:
        """C23: a 4xx means "not here, try the next URL"; a 5xx stops discovery."""
        return 400 <= status < 500

    def _check_prm_resource(self, prm: dict[str, Any], url: str, kind: str) -> None:
        """PRM-3: refuse a PRM that describes another resource (no /authorize follows)."""
        if not prm_resource_matches(prm.get("resource"), self.server_url, kind):
            raise ResourceMismatch(
                f"protected resource metadata at {url} is for {prm.get('resource')!r}, not {self.resource}")

    def _validate_as_metadata(self, asm: AuthServerMetadata, issuer: str) -> None:
        """ASM-3 issuer check and PKCE-1/2: without S256 support, refuse to proceed."""
        if not asm.legacy_defaults and self.config.revision != "2025-03-26":
            exact = revision_at_least(self.config.revision, "2026-07-28")
            if not issuer_matches(asm.issuer, issuer, exact=exact):
                raise MetadataRejected(f"metadata at {asm.source_url} names issuer {asm.issuer!r}, expected {issuer!r}")
        if not asm.authorization_endpoint or not asm.token_endpoint:
            raise MetadataRejected(f"metadata at {asm.source_url} lacks the authorization or token endpoint")
        methods = asm.code_challenge_methods_supported
        if methods is None:
            if not asm.legacy_defaults and revision_at_least(self.config.revision, "2025-11-25"):
                raise PKCEUnsupported(
                    f"metadata at {asm.source_url} lacks code_challenge_methods_supported; refusing without PKCE")
        elif "S256" not in methods:
            raise PKCEUnsupported(f"the authorization server does not support PKCE S256 (offers {methods})")

    # -- fetching -----------------------------------------------------------------------------------
    async def _get_document(self, url: str) -> dict[str, Any] | None:
        """A JSON object from ``url``; None to try the next candidate; TransientError to stop (5xx)."""
        resp: httpx.Response = await self._send("GET", url)
        self._event("discovery_get", url=url, status=resp.status_code)
        if resp.status_code == 200:
            try:
                doc = resp.json()
            except ValueError:
                return None
            return doc if isinstance(doc, dict) else None
        if self._continue_discovery(resp.status_code) or 300 <= resp.status_code < 400:
            return None
        raise TransientError(f"discovery stopped: {url} answered {resp.status_code}", status=resp.status_code)

    async def _fetch_prm(self, challenge: Challenge | None) -> tuple[dict[str, Any], str] | None:
        for url, kind in self._prm_urls(challenge):
            doc = await self._get_document(url)
            if doc is None:
                continue
            self._check_prm_resource(doc, url, kind)
            return doc, url
        return None

    async def _as_metadata(self, issuer: str) -> AuthServerMetadata:
        """Metadata for ``issuer``, cached per issuer; legacy defaults for 2025-03-26 when none is found."""
        cache = self._asm_cache
        if issuer in cache:
            return cache[issuer]
        rejected: MetadataRejected | None = None
        for url in self._as_metadata_urls(issuer):
            doc = await self._get_document(url)
            if doc is None:
                continue
            asm = AuthServerMetadata.from_document(doc, url)
            if self.config.revision == "2025-03-26" and not asm.issuer:
                asm.issuer = issuer
            try:
                self._validate_as_metadata(asm, issuer)
            except PKCEUnsupported:
                raise
            except MetadataRejected as exc:
                rejected = exc  # wrong issuer: don't use it, try the next URL
                continue
            cache[issuer] = asm
            self._event("as_metadata", issuer=asm.issuer, url=url)
            return asm
        if rejected is not None:
            raise rejected
        if self.config.revision == "2025-03-26" or issuer == origin_of(self.server_url):
            asm = AuthServerMetadata.legacy(self.server_url)
            cache[issuer] = asm
            self._event("as_metadata_legacy_defaults", issuer=asm.issuer)
            return asm
        raise DiscoveryError(f"no authorization server metadata found for {issuer}")

    async def _discover(self, challenge: Challenge | None) -> AuthTarget:
        """PRM, then the AS it names, then its metadata. Always fresh for the PRM (AS migration, C26)."""
        scope = challenge.scope if challenge else None
        if self.config.revision == "2025-03-26":
            issuer = origin_of(self.server_url)
            return AuthTarget(self.resource, await self._as_metadata(issuer), challenge_scope=scope)
        found = await self._fetch_prm(challenge)
        if found is None:
            if revision_at_least(self.config.revision, "2026-07-28"):
                raise DiscoveryError(f"no protected resource metadata for {self.resource}")
            # Servers without PRM: the 2025-03-26 behaviour (AS at the MCP server's origin).
            issuer = origin_of(self.server_url)
            return AuthTarget(self.resource, await self._as_metadata(issuer), challenge_scope=scope)
        prm, url = found
        servers = prm.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise DiscoveryError(f"protected resource metadata at {url} names no authorization server")
        asm = await self._as_metadata(servers[0])
        self._event("discovered", prm_url=url, issuer=asm.issuer)
        return AuthTarget(self.resource, asm, prm=prm, prm_url=url, challenge_scope=scope)
