"""Last line of defence for secrets: the journal already redacts, the report never trusts that it did."""

from __future__ import annotations

from typing import Any

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "code", "client_secret", "code_verifier",
                           "authorization", "id_token"})
PREFIX = 8
ELLIPSIS = "…"


def redact_value(value: Any) -> Any:
    """Cut a secret to its 8-character prefix plus an ellipsis (idempotent)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.endswith(ELLIPSIS) and len(text) <= PREFIX + 1:
        return text
    if len(text) > PREFIX:
        return text[:PREFIX] + ELLIPSIS
    return text


def redact(obj: Any) -> Any:
    """Recursively redact every value stored under a secret-named key (returns copies)."""
    if isinstance(obj, dict):
        if not any(isinstance(v, dict | list) for v in obj.values()) and SECRET_FIELDS.isdisjoint(
                k.lower() for k in obj if isinstance(k, str)):
            return dict(obj)
        return {k: (_redact_secret(v) if isinstance(k, str) and k.lower() in SECRET_FIELDS else redact(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


def _redact_secret(value: Any) -> Any:
    if isinstance(value, str) and value[:7].lower() == "bearer ":
        return value[:7] + str(redact_value(value[7:]))
    if isinstance(value, list):
        return [_redact_secret(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_secret(v) for k, v in value.items()}
    return redact_value(value)
