"""Tokens: the token endpoint, refresh single-flight, compare-and-swap writes, absolute expiry.

Every request reads the current token from the store (C17). A refresh takes an in-process lock and a
store lock keyed by (issuer, client_id, refresh token), then RE-READS the store and adopts a newer token
if another tab or replica already refreshed (C08, C09). Writes are CAS on the record version, and the
rotated refresh token is persisted together with the access token before either is used (C10, C12).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

from client_under_test.reference.errors import (
    ClientError,
    CredentialsDead,
    InteractiveAuthRequired,
    TokenEndpointError,
    TransientError,
)
from client_under_test.reference.registration import Registration, RegistrationMixin
from client_under_test.stores import TokenRecord

#: RFC 6749 5.2 plus RFC 8707's invalid_target. Anything else is treated as transient (C20).
STANDARD_TOKEN_ERRORS = frozenset({
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "invalid_target"})

RefreshKey = tuple[str, str, str]


class TokensMixin(RegistrationMixin):
    # -- reading (C15, C17) -------------------------------------------------------------------------
    async def _current_token(self) -> TokenRecord | None:
        """C17: every request reads the store; no in-memory copy survives another tab's refresh."""
        return await self.store.get_tokens(self._token_key())

    def _expires_at(self, response: dict[str, Any]) -> float | None:
        """C15: persist an ABSOLUTE expiry (epoch seconds on the client's clock)."""
        expires_in = response.get("expires_in")
        try:
            return self._now() + float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            return None

    def _needs_proactive_refresh(self, rec: TokenRecord) -> bool:
        """C15: refresh shortly before the absolute expiry (skew: refresh_skew_s, at most 10% of the lifetime)."""
        if rec.expires_at is None or not rec.refresh_token:
            return False
        issued = rec.extra.get("issued_at") if rec.extra else None
        skew = self.config.refresh_skew_s
        if isinstance(issued, int | float) and rec.expires_at > issued:
            skew = min(skew, 0.1 * (rec.expires_at - issued))
        return self._now() >= rec.expires_at - skew

    async def _bearer_for_request(self) -> TokenRecord | None:
        """The token to send now: the stored one, refreshed first if it is about to expire."""
        rec = await self._current_token()
        if rec is None or not self._needs_proactive_refresh(rec):
            return rec
        try:
            return await self._refresh(rec)
        except TransientError:
            return rec  # send what we have; a 401 will bring us back here
        except ClientError:
            return await self._current_token()

    # -- refresh single-flight (C08, C09, C11) ------------------------------------------------------
    @staticmethod
    def _refresh_key(rec: TokenRecord) -> RefreshKey:
        return (rec.issuer or "", rec.client_id or "", rec.refresh_token or "")

    def _refresh_lock(self, key: RefreshKey) -> AbstractAsyncContextManager[Any]:
        """C08 + C09: in-process lock (tabs) then the store lock (replicas), both keyed by the RT."""
        return self._both_locks(key)

    @contextlib.asynccontextmanager
    async def _both_locks(self, key: RefreshKey) -> AsyncIterator[None]:
        async with self._inprocess_refresh_lock(key), self._store_refresh_lock(key):
            yield

    def _inprocess_refresh_lock(self, key: RefreshKey) -> asyncio.Lock:
        locks: dict[RefreshKey, asyncio.Lock] = self.__dict__.setdefault("_refresh_locks", {})
        return locks.setdefault(key, asyncio.Lock())

    def _store_refresh_lock(self, key: RefreshKey) -> AbstractAsyncContextManager[Any]:
        """C09: a cross-process lock (sqlite / redis) whose lease outlives the refresh (C11)."""
        lease_s, renew = self._lock_lease()
        name = "refresh|" + hashlib.sha256("|".join(key).encode()).hexdigest()[:32]  # no secrets in names
        return self.store.lock(name, lease_s=lease_s, wait_s=self.config.lock_wait_s, renew=renew)

    def _lock_lease(self) -> tuple[float, bool]:
        """C11: (lease seconds, renewed while held). The config guarantees lease > request timeout."""
        return self.config.lock_lease_s, True

    async def _reread_after_lock(self, stale: TokenRecord) -> TokenRecord | None:
        """C09: after taking the lock, read the store again: another tab or replica may have refreshed."""
        return await self._current_token()

    def _is_newer(self, current: TokenRecord, stale: TokenRecord) -> bool:
        """C08, C17: the store holds a different token than the one that was rejected / about to expire."""
        return (current.access_token != stale.access_token
                or (current.refresh_token or "") != (stale.refresh_token or ""))

    async def _refresh(self, stale: TokenRecord) -> TokenRecord:
        """Single-flight refresh: adopt a newer token, else redeem the refresh token once."""
        async with self._refresh_lock(self._refresh_key(stale)):
            current = await self._reread_after_lock(stale)
            if current is None:
                raise InteractiveAuthRequired("no stored credentials to refresh")
            if self._is_newer(current, stale):
                self._event("refresh_adopted", version=current.version)
                return current
            if not current.refresh_token:
                raise InteractiveAuthRequired("no refresh token (the AS never issued one)")
            return await self._refresh_now(current)

    # -- the refresh itself --------------------------------------------------------------------------
    async def _token_endpoint_for_refresh(self, rec: TokenRecord) -> str:
        """C16: the persisted token endpoint of the AS that issued the token; never a guessed {origin}/token."""
        if rec.token_endpoint:
            return rec.token_endpoint
        if not rec.issuer:
            raise InteractiveAuthRequired("stored tokens name no issuer")
        asm = await self._as_metadata(rec.issuer)  # rediscover, never guess
        return asm.token_endpoint

    def _include_resource_on_refresh(self, rec: TokenRecord) -> bool:
        """RES-1 / C24: send ``resource`` on refresh too."""
        return bool(rec.resource)

    def _resource_rejected(self, err: TokenEndpointError) -> bool:
        """C24: an Entra-like AS that refuses ``resource`` on refresh."""
        return err.error == "invalid_target" or (
            err.error == "invalid_request" and "resource" in (err.description or "").lower())

    async def _refresh_now(self, current: TokenRecord) -> TokenRecord:
        assert current.refresh_token
        endpoint = await self._token_endpoint_for_refresh(current)
        reg = await self._credentials_for(current.issuer or "", current.client_id or "",
                                          (current.extra or {}).get("redirect_uri"))
        params = {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
        if self._include_resource_on_refresh(current):
            params["resource"] = current.resource or self.resource
        self._event("refresh", client_id=current.client_id, version=current.version)
        try:
            try:
                response = await self._token_request(endpoint, params, reg)
            except TokenEndpointError as err:
                if "resource" not in params or not self._resource_rejected(err):
                    raise
                params.pop("resource")
                self._event("refresh_retry_without_resource")
                response = await self._token_request(endpoint, params, reg)
        except ClientError as err:
            if isinstance(err, TokenEndpointError) and err.error == "invalid_client":
                await self._after_invalid_client(reg)  # C21: a dead DCR client is forgotten, never a pre-registered one
            if self._credentials_dead(err, reg):
                await self._on_dead_credentials(current, err, reg)
                raise CredentialsDead(str(err), error=err.error, description=err.description,
                                      status=err.status) from err
            raise
        new = self._merge_refresh_response(current, response)
        return await self._write_refreshed(current, new)

    def _merge_refresh_response(self, old: TokenRecord, response: dict[str, Any]) -> TokenRecord:
        """C13: keep the old refresh token when the response omits one (RFC 6749 6)."""
        return dataclasses.replace(
            old,
            access_token=str(response["access_token"]),
            refresh_token=response.get("refresh_token") or old.refresh_token,
            expires_at=self._expires_at(response),
            scope=response.get("scope") or old.scope,
            extra={**(old.extra or {}), "issued_at": self._now()},
        )

    async def _write_refreshed(self, old: TokenRecord, new: TokenRecord) -> TokenRecord:
        """C12 + C10: persist the rotated RT with the AT by CAS before anyone uses them.

        A lost CAS means someone else wrote meanwhile (e.g. an interactive flow): keep theirs, but if
        theirs still holds the refresh token we just redeemed, ours supersedes it.
        """
        key = self._token_key()
        expected = old.version
        for _ in range(5):
            if await self.store.cas_tokens(key, expected, new):
                return new
            stored = await self.store.get_tokens(key)
            if stored is None or stored.refresh_token != old.refresh_token:
                self._event("refresh_cas_lost")
                return new
            expected = stored.version
        return new

    # -- dead credentials (C10, C20, C21) ------------------------------------------------------------
    def _credentials_dead(self, err: ClientError, reg: Registration) -> bool:
        """C20: sees EVERY refresh failure. Only invalid_grant, and invalid_client for a dynamically
        registered client, kill credentials; transient errors (5xx, HTML, timeouts, odd strings) never do."""
        if not isinstance(err, TokenEndpointError):
            return False
        return err.error == "invalid_grant" or (err.error == "invalid_client" and reg.kind == "dcr")

    async def _on_dead_credentials(self, rec: TokenRecord, err: ClientError, reg: Registration) -> None:
        await self._clear_tokens_if_unchanged(rec)

    async def _clear_tokens_if_unchanged(self, rec: TokenRecord) -> bool:
        """C10: clear only if the stored refresh token is still the one that failed (a loser never
        wipes the winner)."""
        key = self._token_key()
        stored = await self.store.get_tokens(key)
        if stored is None or stored.refresh_token != rec.refresh_token:
            self._event("clear_skipped_newer_tokens")
            return False
        cleared = await self.store.cas_tokens(key, stored.version, None)
        self._event("tokens_cleared", cleared=cleared)
        return bool(cleared)

    async def _store_new_tokens(self, rec: TokenRecord) -> TokenRecord:
        """Write the tokens of a completed interactive flow (CAS loop; they supersede whatever is there)."""
        key = self._token_key()
        for _ in range(10):
            stored = await self.store.get_tokens(key)
            if await self.store.cas_tokens(key, stored.version if stored else None, rec):
                return rec
        raise TransientError("could not store the new tokens (the store kept changing)")

    # -- the token endpoint (C20) --------------------------------------------------------------------
    def _client_auth(self, reg: Registration, params: dict[str, str]) -> dict[str, str]:
        """Token endpoint client authentication: none | client_secret_post | client_secret_basic."""
        method = reg.token_endpoint_auth_method
        if method == "client_secret_basic" and reg.client_secret:
            raw = f"{quote(reg.client_id, safe='')}:{quote(reg.client_secret, safe='')}"
            return {"authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
        params["client_id"] = reg.client_id
        if method == "client_secret_post" and reg.client_secret:
            params["client_secret"] = reg.client_secret
        return {}

    def _classify_token_failure(self, status: int, doc: Any) -> ClientError:
        """Standard OAuth errors are final; 5xx, HTML, and non-standard strings are transient (C20)."""
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            error = doc["error"]
            if error in STANDARD_TOKEN_ERRORS and 400 <= status < 500:
                return TokenEndpointError(f"token endpoint: {error}", error=error,
                                          description=doc.get("error_description"), status=status)
            return TransientError(f"token endpoint answered {status} {error}", error=error, status=status)
        return TransientError(f"token endpoint answered {status} without an OAuth error", status=status)

    async def _token_request(self, url: str, params: dict[str, str], reg: Registration) -> dict[str, Any]:
        """POST to the token endpoint, retrying transient failures with backoff (C19, C20)."""
        last: ClientError | None = None
        for attempt in range(max(1, self.config.retry.attempts)):
            if attempt:
                await self._backoff(attempt - 1)
            body = dict(params)
            headers = self._client_auth(reg, body)
            try:
                resp = await self._send("POST", url, data=body, headers=headers)
            except TransientError as exc:
                last = exc
                continue
            try:
                doc = resp.json()
            except ValueError:
                doc = None
            if resp.status_code == 200 and isinstance(doc, dict) and doc.get("access_token"):
                return doc
            failure = self._classify_token_failure(resp.status_code, doc)
            if not isinstance(failure, TransientError):
                raise failure
            last = failure
        assert last is not None
        raise last

    def _record_from_response(self, response: dict[str, Any], *, issuer: str, client_id: str, token_endpoint: str,
                              resource: str | None, scope: str | None, redirect_uri: str | None) -> TokenRecord:
        """The record an interactive flow stores: absolute expiry, the AS's token endpoint (C15, C16)."""
        return TokenRecord(
            access_token=str(response["access_token"]), refresh_token=response.get("refresh_token"),
            expires_at=self._expires_at(response), scope=response.get("scope") or scope, issuer=issuer,
            client_id=client_id, token_endpoint=token_endpoint, resource=resource,
            extra={"issued_at": self._now(), "redirect_uri": redirect_uri})
