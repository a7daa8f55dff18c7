"""The records the mock AS keeps: clients, codes, token families, refresh and access tokens.

Clients implement authlib's ``ClientMixin`` so authlib's grants and client authentication use them
directly. Token records are plain data; ``TokenView`` adapts one to what authlib's revocation and
introspection endpoints expect, with expiry and revocation computed against the mock's clock.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

ClientKind = Literal["dcr", "pre_registered", "cimd"]
DEFAULT_GRANT_TYPES = ["authorization_code", "refresh_token"]
DEFAULT_SUBJECT = "user-1"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_redirect(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        return parts.scheme == "http" and is_loopback_host(parts.hostname)
    except ValueError:
        return False


def redirect_matches(registered: str, requested: str, mode: str) -> bool:
    """Exact string match, or (``loopback_any_port``) any port on a loopback URI, RFC 8252 section 7.3."""
    if registered == requested:
        return True
    if mode != "loopback_any_port":
        return False
    try:
        a, b = urlsplit(registered), urlsplit(requested)
        return (a.scheme == b.scheme == "http" and is_loopback_host(a.hostname)
                and a.hostname == b.hostname and a.path == b.path and a.query == b.query
                and not b.fragment)
    except ValueError:
        return False


@dataclass(eq=False)
class Client(ClientMixin):
    client_id: str
    kind: ClientKind
    redirect_uris: list[str] = field(default_factory=list)  # empty: any loopback redirect (pre-registered)
    client_secret: str | None = None
    token_endpoint_auth_method: str = "none"
    grant_types: list[str] = field(default_factory=lambda: list(DEFAULT_GRANT_TYPES))
    response_types: list[str] = field(default_factory=lambda: ["code"])
    scope: str | None = None
    registered_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    # Set from the knobs each time the client is looked up (knobs change at runtime).
    redirect_match: str = "exact"
    default_scope: str = ""

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # Lenient on purpose: a mock grants what is asked; scope faults are injected, not inferred.
        return scope if scope else (self.scope or self.default_scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if not self.redirect_uris:
            return is_loopback_redirect(redirect_uri)
        return any(redirect_matches(r, redirect_uri, self.redirect_match) for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(
            self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str | None  # as sent to /authorize (None: the client's default was used)
    scope: str
    resource: str | None
    code_challenge: str
    code_challenge_method: str
    flow: str | None  # the authorize `state`
    sub: str
    issued_at: float
    expires_at: float
    used_at: float | None = None
    family_id: str | None = None  # the family the tokens issued for this code belong to

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Family:
    """Every token descended from one code exchange. Revoking the family kills all of them."""

    id: str
    client_id: str
    sub: str
    scope: str
    resource: str | None  # the audience of its access tokens
    flow: str | None
    created_at: float
    generation: int = 0  # of the newest refresh token
    current_rt: str | None = None
    revoked: bool = False
    revoked_reason: str | None = None


@dataclass
class RefreshToken:
    token: str
    family_id: str
    generation: int
    client_id: str
    scope: str
    issued_at: float
    expires_at: float | None  # None: never
    rotated_at: float | None = None  # when a newer one replaced it (None: still current)
    successor: str | None = None
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass
class AccessToken:
    token: str
    jti: str
    client_id: str
    sub: str
    scope: str
    aud: str | None
    family_id: str | None
    issued_at: float
    expires_at: float
    revoked: bool = False
    forced_expired: bool = False
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class TokenView:
    """A token as authlib's RFC 7009 / RFC 7662 endpoints see it, evaluated at lookup time."""

    kind: Literal["access_token", "refresh_token"]
    record: AccessToken | RefreshToken
    expired: bool
    revoked: bool

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.record.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def is_expired(self) -> bool:
        return self.expired

    def is_revoked(self) -> bool:
        return self.revoked
