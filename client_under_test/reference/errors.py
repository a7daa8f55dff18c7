"""Classified errors. Adapters report ``error.classify()``; checks never parse messages.

Only two kinds of failure mean the credentials are dead (C20): ``invalid_grant``, and ``invalid_client``
for a dynamically registered client. Everything transient is a :class:`TransientError`.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base class: ``code`` is the stable classification, ``error`` the OAuth error string if any."""

    code = "client_error"

    def __init__(self, message: str, *, error: str | None = None, description: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.description = description
        self.status = status

    def classify(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type(self).__name__, "code": self.code, "message": str(self)}
        if self.error:
            out["error"] = self.error
        if self.description:
            out["error_description"] = self.description
        if self.status is not None:
            out["status"] = self.status
        return out


class DiscoveryError(ClientError):
    code = "discovery_failed"


class ResourceMismatch(DiscoveryError):
    """The PRM ``resource`` is not the server the client connected to (PRM-3): no /authorize."""

    code = "resource_mismatch"


class MetadataRejected(DiscoveryError):
    """AS metadata that must not be used: wrong issuer (ASM-3) or no S256 PKCE (PKCE-1/2)."""

    code = "metadata_rejected"


class PKCEUnsupported(MetadataRejected):
    """The AS metadata lacks S256 in ``code_challenge_methods_supported`` (PKCE-1/2)."""

    code = "pkce_unsupported"


class RegistrationError(ClientError):
    code = "registration_failed"


class AuthorizationFailed(ClientError):
    """The AS refused: an ``error=`` callback, or an OAuth error from the token endpoint."""

    code = "authorization_failed"


class TokenEndpointError(AuthorizationFailed):
    """A standard RFC 6749 5.2 error from the token endpoint."""

    code = "token_error"


class CredentialsDead(AuthorizationFailed):
    """``invalid_grant`` (or ``invalid_client`` for a DCR client): the stored credentials are gone."""

    code = "credentials_dead"


class CallbackRejected(ClientError):
    """A callback that does not belong to a live flow, or fails the iss check."""

    code = "callback_rejected"


class InteractiveAuthRequired(ClientError):
    code = "interactive_auth_required"


class FlowTimeout(ClientError):
    code = "flow_timeout"


class InsufficientScope(ClientError):
    """Step-up retries exhausted (SCO-2)."""

    code = "insufficient_scope"


class Unauthorized(ClientError):
    """The resource server keeps rejecting tokens after the bounded refresh and interactive retries (C19)."""

    code = "unauthorized"


class TransientError(ClientError):
    """5xx, HTML bodies, timeouts, non-standard error strings: retried, never a reason to wipe credentials."""

    code = "transient"


def classify(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ClientError):
        return exc.classify()
    return {"type": type(exc).__name__, "code": "unexpected", "message": str(exc) or type(exc).__name__}
