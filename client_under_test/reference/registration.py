"""Client registration: pre-registered, then CIMD, then DCR (REG-2), persisted and reused (C01, C21, C22, C26).

A registration is keyed by (AS issuer, redirect URIs): never reused across authorization servers
(REG-3, C26), and a new redirect URI (a loopback port change) gets its own registration (C22).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from client_under_test.reference.discovery import AuthServerMetadata, DiscoveryMixin
from client_under_test.reference.errors import RegistrationError, TransientError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class Registration:
    kind: str  # pre_registered | cimd | dcr
    client_id: str
    issuer: str
    redirect_uris: list[str] = field(default_factory=list)
    client_secret: str | None = None
    token_endpoint_auth_method: str = "none"
    registered_at: float | None = None
    client_secret_expires_at: float | None = None
    #: Not persisted: True when this registration came from the store rather than a /register just now.
    reused: bool = False

    def to_record(self) -> dict[str, Any]:
        rec = asdict(self)
        rec.pop("reused")
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any], *, reused: bool) -> Registration:
        names = set(cls.__dataclass_fields__) - {"reused"}
        return cls(**{k: v for k, v in rec.items() if k in names}, reused=reused)


def is_loopback(uri: str) -> bool:
    host = urlsplit(uri).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def auth_method_for_secret(supported: list[str] | None, has_secret: bool) -> str:
    """How to authenticate at the token endpoint with these credentials (RFC 8414 default: basic)."""
    if not has_secret:
        return "none"
    if supported is None or "client_secret_basic" in supported:
        return "client_secret_basic"
    if "client_secret_post" in supported:
        return "client_secret_post"
    return "client_secret_basic"


def requested_auth_method(supported: list[str] | None) -> str:
    """DCR asks for a public client (``none``) unless the AS only supports secrets."""
    if supported is None or "none" in supported:
        return "none"
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    return "none"


class RegistrationMixin(DiscoveryMixin):
    # -- overridable decisions ----------------------------------------------------------------------
    def _registration_key(self, issuer: str, redirect_uri: str | None = None) -> tuple[str, list[str]]:
        """C22, C26: registrations are keyed by the AS issuer AND the redirect URIs."""
        return issuer, [redirect_uri or self.config.redirect_uri]

    def _pre_registered_for(self, asm: AuthServerMetadata) -> Registration | None:
        """REG-2 first choice. Credentials bound to another issuer are never sent to this one (REG-3)."""
        pre = self.config.pre_registered
        if not pre:
            return None
        if pre.get("issuer") and pre["issuer"].rstrip("/") != asm.issuer.rstrip("/"):
            return None
        secret = pre.get("client_secret")
        method = pre.get("token_endpoint_auth_method") or auth_method_for_secret(
            asm.token_endpoint_auth_methods_supported, bool(secret))
        return Registration(kind="pre_registered", client_id=pre["client_id"], issuer=asm.issuer,
                            redirect_uris=[self.config.redirect_uri], client_secret=secret,
                            token_endpoint_auth_method=method, reused=True)

    def _use_cimd(self, asm: AuthServerMetadata) -> bool:
        """REG-2 second choice: a client ID metadata document, if the AS supports it and we have one."""
        return bool(self.config.cimd_url and asm.cimd_supported)

    def _registration_usable(self, rec: dict[str, Any], asm: AuthServerMetadata) -> bool:
        """A stored registration is reused unless it is for another AS or its secret has expired."""
        if rec.get("issuer") and rec["issuer"] != asm.issuer:
            return False
        expires = rec.get("client_secret_expires_at")
        return not (expires and float(expires) <= self._now())

    def _may_reregister(self, reg: Registration) -> bool:
        """C21: re-register (once, the caller bounds it) only a dynamically registered client that was reused."""
        return reg.kind == "dcr" and reg.reused

    async def _after_invalid_client(self, reg: Registration) -> bool:
        """C21: the AS answered ``invalid_client`` for ``reg``. Forget it and say whether to register again.

        ``_may_reregister`` decides whether a new registration may replace it; ``_forget_registration``
        decides what may be forgotten (never pre-registered or CIMD credentials), so both are consulted
        for every kind of client.
        """
        if reg.kind == "dcr":
            if not self._may_reregister(reg):
                return False
            await self._forget_registration(reg)
            return True
        return await self._forget_registration(reg)  # the reference: False, the credentials stay

    async def _forget_registration(self, reg: Registration) -> bool:
        """C21: drop a dead DCR registration, only if the store still holds that client. Never a
        pre-registered or CIMD client."""
        if reg.kind != "dcr":
            return False
        issuer, uris = self._registration_key(reg.issuer, reg.redirect_uris[0] if reg.redirect_uris else None)
        deleted = await self.store.delete_registration(issuer, uris, reg.client_id)
        self._event("registration_forgotten", client_id=reg.client_id, deleted=deleted)
        return bool(deleted)

    async def _registration_for(self, asm: AuthServerMetadata) -> Registration:
        """C01: reuse the persisted registration; register under a lock with a re-read, put-if-absent."""
        pre = self._pre_registered_for(asm)
        if pre is not None:
            return pre
        if self._use_cimd(asm):
            assert self.config.cimd_url
            return Registration(kind="cimd", client_id=self.config.cimd_url, issuer=asm.issuer,
                                redirect_uris=[self.config.redirect_uri], reused=True)
        if not asm.registration_endpoint:
            raise RegistrationError(
                f"{asm.issuer} offers no dynamic registration, no CIMD, and no pre-registered client is configured")
        issuer, uris = self._registration_key(asm.issuer)
        rec = await self.store.get_registration(issuer, uris)
        if rec is not None and self._registration_usable(rec, asm):
            return Registration.from_record(rec, reused=True)
        async with self._registration_lock(issuer, uris):
            rec = await self.store.get_registration(issuer, uris)  # re-read: another tab/replica may have won
            if rec is not None and self._registration_usable(rec, asm):
                return Registration.from_record(rec, reused=True)
            if rec is not None:
                await self.store.delete_registration(issuer, uris, rec.get("client_id", ""))
            reg = await self._register_dynamic(asm)
            stored = await self.store.put_registration(issuer, uris, reg.to_record(), if_absent=True)
            return Registration.from_record(stored, reused=stored.get("client_id") != reg.client_id)

    @contextlib.asynccontextmanager
    async def _registration_lock(self, issuer: str, uris: list[str]) -> AsyncIterator[None]:
        """One /register per key, across tabs (asyncio lock) and replicas (store lock)."""
        name = "register|" + hashlib.sha256(f"{issuer}|{sorted(uris)}".encode()).hexdigest()[:32]
        locks: dict[str, asyncio.Lock] = self.__dict__.setdefault("_reg_locks", {})
        async with locks.setdefault(name, asyncio.Lock()), self.store.lock(
                name, lease_s=self.config.lock_lease_s, wait_s=self.config.lock_wait_s):
            yield

    def _dcr_request(self, asm: AuthServerMetadata) -> dict[str, Any]:
        """REG-3 / RT-1: application_type, refresh_token in grant_types, a public client when allowed."""
        redirect = self.config.redirect_uri
        return {
            "client_name": self.config.client_name,
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": requested_auth_method(asm.token_endpoint_auth_methods_supported),
            "application_type": "native" if is_loopback(redirect) else "web",
        }

    async def _register_dynamic(self, asm: AuthServerMetadata) -> Registration:
        assert asm.registration_endpoint
        body = self._dcr_request(asm)
        last: Exception | None = None
        for attempt in range(max(1, self.config.retry.attempts)):
            if attempt:
                await self._backoff(attempt - 1)
            try:
                resp = await self._send("POST", asm.registration_endpoint, json=body)
            except TransientError as exc:
                last = exc
                continue
            try:
                doc = resp.json()
            except ValueError:
                doc = None
            if resp.status_code in (200, 201) and isinstance(doc, dict) and doc.get("client_id"):
                secret = doc.get("client_secret")
                method = doc.get("token_endpoint_auth_method") or (
                    body["token_endpoint_auth_method"] if body["token_endpoint_auth_method"] != "none" or not secret
                    else auth_method_for_secret(asm.token_endpoint_auth_methods_supported, True))
                expires = doc.get("client_secret_expires_at")
                reg = Registration(kind="dcr", client_id=str(doc["client_id"]), issuer=asm.issuer,
                                   redirect_uris=[self.config.redirect_uri], client_secret=secret,
                                   token_endpoint_auth_method=str(method), registered_at=self._now(),
                                   client_secret_expires_at=float(expires) if expires else None)
                self._event("registered", client_id=reg.client_id, issuer=asm.issuer)
                return reg
            if resp.status_code >= 500 or not isinstance(doc, dict) or not doc.get("error"):
                last = TransientError(f"registration answered {resp.status_code}", status=resp.status_code)
                continue
            raise RegistrationError(f"registration refused: {doc.get('error')}", error=str(doc.get("error")),
                                    description=doc.get("error_description"), status=resp.status_code)
        raise last if last else RegistrationError("registration failed")

    async def _credentials_for(self, issuer: str, client_id: str, redirect_uri: str | None) -> Registration:
        """The credentials of the client a flow or token is bound to, on any replica (C01, C16)."""
        pre = self.config.pre_registered
        if pre and pre.get("client_id") == client_id and (
                not pre.get("issuer") or pre["issuer"].rstrip("/") == issuer.rstrip("/")):
            cached = self._asm_cache.get(issuer)
            supported = cached.token_endpoint_auth_methods_supported if cached else None
            secret = pre.get("client_secret")
            return Registration(kind="pre_registered", client_id=client_id, issuer=issuer, client_secret=secret,
                                token_endpoint_auth_method=pre.get("token_endpoint_auth_method")
                                or auth_method_for_secret(supported, bool(secret)), reused=True)
        if self.config.cimd_url and client_id == self.config.cimd_url:
            return Registration(kind="cimd", client_id=client_id, issuer=issuer, reused=True)
        key_issuer, uris = self._registration_key(issuer, redirect_uri)
        rec = await self.store.get_registration(key_issuer, uris)
        if rec is not None and rec.get("client_id") == client_id:
            return Registration.from_record(rec, reused=True)
        return Registration(kind="dcr", client_id=client_id, issuer=issuer,
                            redirect_uris=[redirect_uri] if redirect_uri else [], reused=True)
