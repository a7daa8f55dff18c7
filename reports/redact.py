"""Last line of defence for secrets: the journal already redacts, the report never trusts that it did."""

from __future__ import annotations

import re
from typing import Any

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "code", "client_secret", "code_verifier",
                           "authorization", "id_token"})
PREFIX = 8
ELLIPSIS = "…"
# secrets inside free text: URL query/fragment parameters and bearer credentials
_IN_TEXT = re.compile(
    r"(?P<k>(?:[?&#;,\s]|^)(?:code|access_token|refresh_token|client_secret|code_verifier|id_token)=)"
    r"(?P<v>[^&#\s\"',;]{9,})"
    r"|(?P<b>\bBearer\s+)(?P<t>[^\s\"',;]{9,})", re.I)


def _cut(m: re.Match[str]) -> str:
    if m.group("k") is not None:
        v = m.group("v")
        return m.group("k") + (v if v.endswith(ELLIPSIS) and len(v) <= PREFIX + 1 else v[:PREFIX] + ELLIPSIS)
    t = m.group("t")
    return m.group("b") + (t if t.endswith(ELLIPSIS) and len(t) <= PREFIX + 1 else t[:PREFIX] + ELLIPSIS)


def scrub_text(text: str) -> str:
    """Cut secrets embedded in free text (a Location URL with ?code=..., 'Bearer eyJ...')."""
    if "=" not in text and "earer" not in text:
        return text
    return _IN_TEXT.sub(_cut, text)


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
        out = {}
        for k, v in obj.items():
            if isinstance(k, str) and k.lower() in SECRET_FIELDS:
                out[k] = _redact_secret(v)
            elif isinstance(v, str):
                out[k] = scrub_text(v)
            elif isinstance(v, dict | list):
                out[k] = redact(v)
            else:
                out[k] = v
        return out
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


def _redact_secret(value: Any) -> Any:
    if isinstance(value, str) and value[:7].lower() == "bearer ":
        return value[:7] + str(redact_value(value[7:]))
    if isinstance(value, list):
        return [_redact_secret(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_secret(v) for k, v in value.items()}
    return redact_value(value)
