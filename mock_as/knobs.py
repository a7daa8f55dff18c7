"""Knobs: the one typed settings object of the mock servers.

It is the single source for the CLI flags (``mock-as serve --help`` is generated from the field
descriptions), TOML config files, ``MOCK_AS_*`` environment variables and the admin API's PATCH.
Durations accept seconds as numbers or strings like ``2s``, ``30m``, ``1h``, ``500ms``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """``2s`` -> 2.0, ``30m`` -> 1800.0, ``500ms`` -> 0.5, ``7`` -> 7.0."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 2s, 30m, 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration; use seconds or a string like 2s, 500ms, 30m, 1h")
    return float(m.group(1)) * _UNIT[m.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]

ReusePolicy = Literal["reject", "revoke_family"]
GraceMode = Literal["none", "reissue_new", "return_current", "never_revoke"]
ResourcePolicy = Literal["require", "ignore", "reject_on_refresh"]
RedirectMatch = Literal["exact", "loopback_any_port"]
IssMode = Literal["correct", "wrong", "omitted"]
Consent = Literal["approve", "deny"]
Layout = Literal[
    "default",  # one origin: AS at the root, MCP at /mcp, PRM at /.well-known/oauth-protected-resource/mcp
    "as_separate_origin",  # the AS on its own origin (a second port)
    "issuer_path",  # the issuer has a path (/tenant1)
    "oidc_only",  # AS metadata only at /.well-known/openid-configuration
    "prm_root",  # PRM only at the root /.well-known/oauth-protected-resource
    "prm_header_only",  # PRM at a non-well-known URL named only in WWW-Authenticate
    "legacy_2025_03_26",  # no PRM; AS metadata at the MCP server's origin, default endpoint paths
]
AuthMethod = Literal["none", "client_secret_basic", "client_secret_post"]


class PreRegisteredClient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: str
    client_secret: str | None = None
    redirect_uris: list[str] = Field(default_factory=list)  # empty: any loopback redirect is accepted
    token_endpoint_auth_method: AuthMethod = "none"
    scope: str | None = None


class Knobs(BaseModel):
    """Every behaviour of the mock servers that a scenario or a person can set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # -- tokens -------------------------------------------------------------------------------------
    access_token_ttl: Duration = Field(3600.0, description="access-token lifetime")
    refresh_token_ttl: Duration = Field(86400.0, description="refresh-token lifetime (0: never expires)")
    code_ttl: Duration = Field(60.0, description="authorization-code lifetime")
    issue_refresh_tokens: bool = Field(True, description="issue a refresh token with the code exchange")
    rotate_refresh_tokens: bool = Field(False, description="issue a new refresh token on every refresh")
    reuse_policy: ReusePolicy = Field(
        "reject", description="what a redeemed (rotated-out) refresh token gets: reject it, or revoke its family")
    grace_mode: GraceMode = Field(
        "none", description="inside grace_s after rotation, a reused refresh token: none | reissue_new | "
                            "return_current | never_revoke (old tokens stay valid, no detection)")
    grace_s: Duration = Field(0.0, description="the reuse grace window after a rotation")
    refresh_omits_refresh_token: bool = Field(
        False, description="the refresh response carries no refresh_token (Google-style)")
    revoke_tokens_on_code_replay: bool = Field(
        False, description="a replayed code revokes the tokens issued for it (RFC 6749 4.1.2)")
    jwt_access_tokens: bool = Field(True, description="access tokens are JWTs signed with the JWKS key")

    # -- clients and registration ------------------------------------------------------------------
    enforce_client_id: bool = Field(
        True, description="a code redeemed by another client_id gets 401 invalid_client")
    dcr: bool = Field(True, description="dynamic client registration (RFC 7591) at /register")
    cimd: bool = Field(True, description="client ID metadata documents: an https/loopback URL as client_id")
    pre_registered: list[PreRegisteredClient] = Field(default_factory=list, description="pre-registered clients")
    expire_client_after_s: Duration = Field(
        0.0, description="a registered client dies this long after registering (0: never); then invalid_client")
    require_application_type: bool = Field(False, description="DCR without application_type is rejected")
    redirect_match: RedirectMatch = Field(
        "exact", description="redirect_uri comparison: exact, or any port on loopback (RFC 8252 7.3)")

    # -- authorization endpoint --------------------------------------------------------------------
    consent: Consent = Field("approve", description="the default consent outcome of /authorize")
    consent_delay_s: Duration = Field(
        0.0, description="how long the user takes to consent: advances a manual clock before the code is issued "
                    "(never sleeps); with the system clock it is only journaled")
    iss_in_callback: IssMode = Field("correct", description="RFC 9207 iss in the redirect: correct | wrong | omitted")
    advertise_iss_support: bool = Field(
        True, description="authorization_response_iss_parameter_supported in the metadata")
    advertise_pkce: bool = Field(True, description="code_challenge_methods_supported in the metadata")
    resource_policy: ResourcePolicy = Field(
        "ignore", description="RFC 8707 resource: require it, ignore it, or reject it on refresh (Entra)")

    # -- resource server ---------------------------------------------------------------------------
    scopes_supported: list[str] = Field(default_factory=lambda: ["mcp:read", "mcp:write"],
                                        description="scopes in the metadata and PRM")
    required_scope: str | None = Field(None, description="scope every MCP request needs (401 names it)")
    step_up_scope: str | None = Field(
        None, description="scope tools/call needs; without it, 403 insufficient_scope naming only this scope")
    challenge_scope: bool = Field(True, description="WWW-Authenticate carries scope=")
    challenge_resource_metadata: bool = Field(True, description="WWW-Authenticate carries resource_metadata=")

    # -- layout and discovery ----------------------------------------------------------------------
    layout: Layout = Field("default", description="discovery layout variant")
    issuer_path: str = Field("/tenant1", description="the issuer's path for layout=issuer_path")
    token_endpoint_path: str = Field("/token", description="where the token endpoint lives")
    well_known_status: dict[str, int] = Field(
        default_factory=dict,
        description="force a status on a well-known URL (path -> status), for discovery fallbacks (C23)")
    authorization_servers: list[str] = Field(
        default_factory=list, description="override the PRM's authorization_servers (AS migration, C26)")
    prm_resource: str | None = Field(
        None, description="override the PRM's resource (a mismatch with the MCP URL, PRM-3)")
    second_as_path: str | None = Field(
        None, description="serve a second authorization server (its own clients, tokens and keys) under this "
                          "path of the MCP origin, e.g. /as2; authorization_servers=['/as2'] migrates to it (C26)")

    # -- keys --------------------------------------------------------------------------------------
    signing_alg: Literal["RS256", "ES256"] = Field("ES256", description="JWT access-token signing algorithm")

    preset: str | None = Field(None, description="the preset these knobs started from, if any")

    @field_validator("second_as_path")
    @classmethod
    def _optional_path(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith("/") or v == "/" or v.endswith("/")):
            raise ValueError("second_as_path is a path like /as2: a leading / and no trailing slash")
        return v

    @field_validator("issuer_path", "token_endpoint_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or v.endswith("/") and v != "/":
            raise ValueError("a path starts with / and has no trailing slash, e.g. /tenant1")
        return v

    def patched(self, changes: dict[str, Any]) -> Knobs:
        """A validated copy with changes applied. Unknown names raise with the list of valid ones."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise KnobError(f"unknown knob {', '.join(unknown)}; valid knobs: {', '.join(type(self).model_fields)}")
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise KnobError(one_line(exc)) from None


class KnobError(ValueError):
    """A bad knob name or value, with a one-line message that says how to fix it."""


def one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "knobs"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error":
            msg = "expected " + err["ctx"]["expected"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


# How real authorization servers rotate refresh tokens (bug-catalogue.md). Applied over the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "auth0": {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "reissue_new",
              "grace_s": 0.0},
    "okta": {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "reissue_new",
             "grace_s": 30.0},
    "entra": {"rotate_refresh_tokens": True, "grace_mode": "never_revoke", "resource_policy": "reject_on_refresh"},
    "gotrue": {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "return_current",
               "grace_s": 10.0},
    "keycloak": {"rotate_refresh_tokens": False, "reuse_policy": "reject"},
    "google": {"rotate_refresh_tokens": False, "refresh_omits_refresh_token": True},
}


def from_preset(name: str, **overrides: Any) -> Knobs:
    if name not in PRESETS:
        raise KnobError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return Knobs().patched({**PRESETS[name], "preset": name, **overrides})


def load_toml(path: str) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise KnobError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise KnobError(f"config file {path} is not valid TOML: {exc}") from None
    return data.get("knobs", data)
