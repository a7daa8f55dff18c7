"""The fault plan: what each endpoint does wrong, and how many times.

A fault matches by endpoint name (see ``ENDPOINTS``) and optional request params, and fires ``times``
times (None: always). The server applies them; this module only describes and counts them.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The endpoint names faults, gates and journal entries use.
ENDPOINTS = ("as_metadata", "oidc_metadata", "prm", "register", "authorize", "token", "revoke", "introspect",
             "jwks", "mcp", "cimd")

FaultAction = Literal[
    "error",  # a JSON OAuth error: status + error (+ error_description); a non-standard string is fine too
    "html",  # an HTML body (a proxy's 502 page by default)
    "latency",  # delay the response by latency_s of real time (for humans; race tests use gates)
    "drop_after_commit",  # do the work (rotate, redeem), then close the connection with no response
    "unauthorized",  # MCP only: answer 401 with a WWW-Authenticate challenge
    "callback_error",  # authorize only: redirect back with error=<error> instead of a code
    "insufficient_scope",  # MCP only: answer 403 insufficient_scope naming `scope`
]


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str
    action: FaultAction
    match: dict[str, str] = Field(default_factory=dict)
    times: int | None = 1  # None: always
    status: int | None = None
    error: str | None = None
    error_description: str | None = None
    body: str | None = None
    latency_s: float = 0.0
    scope: str | None = None
    id: int = 0
    fired: int = 0

    @model_validator(mode="after")
    def _check(self) -> Fault:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; choose one of {', '.join(ENDPOINTS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be a positive count, or null for always")
        if self.action == "callback_error" and self.endpoint != "authorize":
            raise ValueError("callback_error only applies to the authorize endpoint")
        if self.action in ("unauthorized", "insufficient_scope") and self.endpoint != "mcp":
            raise ValueError(f"{self.action} only applies to the mcp endpoint")
        if self.action == "callback_error" and not self.error:
            raise ValueError("callback_error needs error=<code>, e.g. access_denied")
        return self


class FaultPlan:
    """Armed faults, consumed as they fire. Thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def arm(self, fault: Fault | dict[str, Any]) -> Fault:
        f = fault if isinstance(fault, Fault) else Fault.model_validate(fault)
        with self._lock:
            f.id = self._next_id
            self._next_id += 1
            self._faults.append(f)
        return f

    def take(self, endpoint: str, params: dict[str, Any], actions: tuple[str, ...] | None = None) -> Fault | None:
        """The first armed fault matching this request, counted as fired; None when none matches."""
        with self._lock:
            for f in self._faults:
                if f.endpoint != endpoint or (actions and f.action not in actions):
                    continue
                if not all(str(params.get(k)) == str(v) for k, v in f.match.items()):
                    continue
                f.fired += 1
                if f.times is not None and f.fired >= f.times:
                    self._faults.remove(f)
                return f.model_copy()
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.model_dump() for f in self._faults]
