"""Configuration of the reference client: one dataclass, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REVISIONS: tuple[str, ...] = ("2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
DEFAULT_REDIRECT_URI = "http://127.0.0.1:33418/callback"


def revision_at_least(revision: str, minimum: str) -> bool:
    """Revisions are dates, so string order is release order."""
    return revision >= minimum


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures (5xx, HTML bodies, timeouts, non-standard error strings) (C20).

    The sleeps are ``backoff_base_s * 2**n`` capped at ``backoff_max_s``; tests set the base to 0.
    """

    attempts: int = 3
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * (2**attempt))


@dataclass
class ClientConfig:
    """Everything the reference client can be told. See the package docstring for what each guards."""

    revision: str = "2025-11-25"
    tenant: str = "default"
    user: str = "user"
    redirect_uri: str = DEFAULT_REDIRECT_URI
    client_name: str = "mcp-oauth-reference-client"
    #: ``{"client_id", "client_secret"?, "token_endpoint_auth_method"?, "issuer"?}``; with ``issuer`` the
    #: credentials are only used at that AS (REG-3: never reused across authorization servers).
    pre_registered: dict[str, Any] | None = None
    cimd_url: str | None = None
    #: An explicit scope overrides the selection strategy (SCO-1).
    scope: str | None = None
    #: Ask for ``offline_access`` when the AS lists it (RT-1, a MAY).
    offline_access: bool = True
    max_step_up: int = 2
    max_refresh_per_request: int = 1
    max_interactive_per_request: int = 1
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Pending-flow TTL (store clock) and the real-time bound a waiter waits for a flow's outcome.
    flow_ttl_s: float = 600.0
    flow_wait_s: float | None = None
    flow_poll_s: float = 0.02
    #: The refresh lock's lease must outlive one token request (C11); the store renews it while held.
    lock_lease_s: float = 30.0
    lock_wait_s: float = 60.0
    http_timeout_s: float = 10.0
    #: Refresh proactively this long before the absolute expiry (C15).
    refresh_skew_s: float = 30.0

    def __post_init__(self) -> None:
        if self.revision not in REVISIONS:
            raise ValueError(f"unknown revision {self.revision!r}; choose one of {', '.join(REVISIONS)}")
        if self.lock_lease_s <= self.http_timeout_s:
            raise ValueError("lock_lease_s must be longer than http_timeout_s (C11: the lease outlives a refresh)")
        if self.max_step_up < 0 or self.max_refresh_per_request < 0 or self.max_interactive_per_request < 0:
            raise ValueError("retry bounds cannot be negative")
        if self.pre_registered is not None and not self.pre_registered.get("client_id"):
            raise ValueError("pre_registered needs a client_id")

    @property
    def outcome_wait_s(self) -> float:
        return self.flow_ttl_s if self.flow_wait_s is None else self.flow_wait_s
