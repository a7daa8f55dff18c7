"""Signing keys for JWT access tokens, and the JWKS that publishes them (joserfc).

``rotate()`` makes a new current key; old keys stay in the JWKS so tokens they signed still verify,
which is what a real AS does during a key rollover. ``retire(kid)`` drops one for "unknown kid" tests.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

Alg = str  # "ES256" | "RS256"


def _generate(alg: Alg, kid: str) -> ECKey | RSAKey:
    params = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params)
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params)
    raise ValueError(f"unsupported signing algorithm {alg!r}; use ES256 or RS256")


class KeyRing:
    """The AS's signing keys. Thread-safe. The algorithm is read at signing time (knobs change)."""

    def __init__(self, alg: Callable[[], Alg] | Alg = "ES256") -> None:
        self._alg = alg if callable(alg) else (lambda: alg)
        self._lock = threading.Lock()
        self._keys: list[ECKey | RSAKey] = []  # oldest first; the last one is current

    def _current(self) -> ECKey | RSAKey:
        """The current key, made (or replaced) when the configured algorithm has none yet."""
        alg = self._alg()
        with self._lock:
            if not self._keys or self._keys[-1].alg != alg:
                self._keys.append(_generate(alg, _new_kid()))
            return self._keys[-1]

    @property
    def current_kid(self) -> str:
        return str(self._current().kid)

    def rotate(self) -> str:
        """Make a new current key (same algorithm). Old keys stay published. Returns the new kid."""
        alg = self._alg()
        key = _generate(alg, _new_kid())
        with self._lock:
            self._keys.append(key)
        return str(key.kid)

    def retire(self, kid: str) -> bool:
        """Drop a key from the JWKS: tokens it signed no longer verify."""
        with self._lock:
            before = len(self._keys)
            self._keys = [k for k in self._keys if k.kid != kid]
            return len(self._keys) != before

    def jwks(self) -> dict[str, Any]:
        self._current()
        with self._lock:
            return KeySet(list(self._keys)).as_dict(private=False)

    def sign(self, claims: dict[str, Any]) -> str:
        key = self._current()
        return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}, claims, key)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims when the signature verifies with a published key; None otherwise (no claim checks)."""
        with self._lock:
            keys = list(self._keys)
        if not keys:
            return None
        try:
            return dict(jwt.decode(token, KeySet(keys), algorithms=["ES256", "RS256"]).claims)
        except (JoseError, ValueError, TypeError, KeyError):
            return None


def _new_kid() -> str:
    return "k-" + secrets.token_hex(4)
