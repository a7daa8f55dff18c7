"""ASState: everything the mock AS remembers, and the atomic operations on it.

One ``threading.RLock`` (``ASState.lock``) guards every check-and-consume: the endpoints run authlib's
synchronous validation and our redemption under it, so K concurrent redemptions of one code or refresh
token are serialized and give exactly the outcomes the knobs say.
"""

from __future__ import annotations

import contextvars
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError

from mock_as.authorization.models import (
    AccessToken,
    AuthCode,
    Client,
    Family,
    RefreshToken,
    TokenView,
)
from mock_as.journal import redact

if TYPE_CHECKING:
    from mock_as.context import ServerContext

#: Per-request labels (actor, exchange) that domain events inherit; set by the endpoint wrapper.
request_labels: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "mock_as_request_labels", default=None)


@dataclass
class AccessCheck:
    ok: bool
    reason: str | None = None  # malformed | bad_signature | unknown | revoked | family_revoked | expired | wrong_audience
    claims: dict[str, Any] = field(default_factory=dict)
    scope: set[str] = field(default_factory=set)


class ClientExpired(Exception):
    """A dynamically registered client outlived ``expire_client_after_s``."""


class ASState:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.lock = threading.RLock()
        self.reset()

    # -- bookkeeping ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every client, code and token (published CIMD documents too)."""
        with self.lock:
            self.clients: dict[str, Client] = {}
            self.cimd_clients: dict[str, Client] = {}
            self.cimd_documents: dict[str, dict[str, Any]] = {}
            self.codes: dict[str, AuthCode] = {}
            self.families: dict[str, Family] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.access_tokens: dict[str, AccessToken] = {}

    def now(self) -> float:
        return self.ctx.clock.now()

    def event(self, kind: str, *, endpoint: str = "token", **fields: Any) -> None:
        """Journal a domain event, labelled with the current request's actor and exchange."""
        labels = request_labels.get() or {}
        for key in ("actor", "exchange"):
            if labels.get(key) is not None:
                fields.setdefault(key, labels[key])
        assert self.ctx.journal is not None
        self.ctx.journal.record(kind, endpoint=endpoint, **fields)

    # -- clients ----------------------------------------------------------------------------------

    def query_client(self, client_id: str | None) -> Client | None:
        """The client for this id, as the knobs see it now. Raises ClientExpired for an expired one."""
        if not client_id:
            return None
        k = self.ctx.knobs
        client: Client | None = None
        for pre in k.pre_registered:
            if pre.client_id == client_id:
                client = Client(client_id=pre.client_id, kind="pre_registered", redirect_uris=list(pre.redirect_uris),
                                client_secret=pre.client_secret,
                                token_endpoint_auth_method=pre.token_endpoint_auth_method, scope=pre.scope)
                break
        with self.lock:
            if client is None:
                client = self.clients.get(client_id)
                if client is not None and k.expire_client_after_s > 0 \
                        and self.now() >= client.registered_at + k.expire_client_after_s:
                    raise ClientExpired(client_id)
            if client is None and k.cimd:
                client = self.cimd_clients.get(client_id)
        if client is not None:
            client.redirect_match = k.redirect_match
            client.default_scope = k.required_scope or ""
        return client

    def add_client(self, client: Client) -> Client:
        with self.lock:
            if client.kind == "cimd":
                self.cimd_clients[client.client_id] = client
            else:
                self.clients[client.client_id] = client
        return client

    def publish_cimd(self, name: str, document: dict[str, Any] | None = None, **fields: Any) -> str:
        """Serve a client ID metadata document at ``{issuer}/cimd/{name}``; returns that URL (the client_id).

        ``client_id`` is filled in with the URL when the document does not set one.
        """
        from mock_as.authorization.metadata import endpoint_url

        doc = dict(document or {})
        doc.update(fields)
        doc.setdefault("client_name", name)
        doc.setdefault("token_endpoint_auth_method", "none")
        doc.setdefault("grant_types", ["authorization_code", "refresh_token"])
        doc.setdefault("response_types", ["code"])
        with self.lock:
            self.cimd_documents[name] = doc
            url = endpoint_url(self.ctx, f"/cimd/{name}")
            self.cimd_clients.pop(url, None)  # refetch on next use
        return url

    # -- codes ------------------------------------------------------------------------------------

    def save_code(self, code: AuthCode) -> None:
        with self.lock:
            self.codes[code.code] = code

    # -- issuing ----------------------------------------------------------------------------------

    def new_family(self, client_id: str, sub: str, scope: str, resource: str | None, flow: str | None) -> Family:
        fam = Family(id="fam-" + secrets.token_hex(6), client_id=client_id, sub=sub, scope=scope,
                     resource=resource, flow=flow, created_at=self.now())
        with self.lock:
            self.families[fam.id] = fam
        return fam

    def new_refresh_token(self, fam: Family, scope: str) -> RefreshToken:
        ttl = self.ctx.knobs.refresh_token_ttl
        now = self.now()
        with self.lock:
            fam.generation += 1
            rt = RefreshToken(token="rt_" + secrets.token_urlsafe(32), family_id=fam.id, generation=fam.generation,
                              client_id=fam.client_id, scope=scope, issued_at=now,
                              expires_at=(now + ttl) if ttl > 0 else None)
            self.refresh_tokens[rt.token] = rt
            fam.current_rt = rt.token
        return rt

    def new_access_token(self, fam: Family, scope: str) -> AccessToken:
        k = self.ctx.knobs
        now = self.now()
        jti = "at-" + secrets.token_hex(8)
        exp = now + k.access_token_ttl
        assert self.ctx.urls is not None
        claims = {"iss": self.ctx.urls.issuer, "sub": fam.sub, "client_id": fam.client_id, "scope": scope,
                  "iat": int(now), "exp": int(exp), "jti": jti, "fam": fam.id}
        if fam.resource:
            claims["aud"] = fam.resource
        token = self.ctx.keys.sign(claims) if k.jwt_access_tokens else "at_" + secrets.token_urlsafe(32)
        rec = AccessToken(token=token, jti=jti, client_id=fam.client_id, sub=fam.sub, scope=scope, aud=fam.resource,
                          family_id=fam.id, issued_at=now, expires_at=exp, claims=claims)
        with self.lock:
            self.access_tokens[token] = rec
        return rec

    def token_response(self, fam: Family, scope: str, refresh_token: str | None) -> dict[str, Any]:
        at = self.new_access_token(fam, scope)
        body: dict[str, Any] = {"access_token": at.token, "token_type": "Bearer",
                                "expires_in": int(self.ctx.knobs.access_token_ttl)}
        if scope:
            body["scope"] = scope
        if refresh_token:
            body["refresh_token"] = refresh_token
        return body

    # -- refresh ----------------------------------------------------------------------------------

    def redeem_refresh(self, rt: RefreshToken, scope: str) -> dict[str, Any]:
        """Apply the rotation / reuse / grace knobs to one refresh-token redemption. Atomic.

        Journal fields: ``presented`` is the token sent; ``refresh_token`` is the one the response carries
        (None when omitted) on success, the presented one on refusal; ``generation`` is the presented
        token's, ``new_generation`` the issued one's. Raises ``InvalidGrantError`` when refused.
        """
        with self.lock:
            k = self.ctx.knobs
            now = self.now()
            fam = self.families[rt.family_id]
            ev = {"client_id": rt.client_id, "flow": fam.flow, "family": fam.id, "grant_type": "refresh_token",
                  "presented": redact(rt.token), "refresh_token": redact(rt.token), "generation": rt.generation,
                  "resource": fam.resource, "scope": scope}
            if fam.revoked or rt.revoked:
                raise InvalidGrantError("The refresh token was revoked.")
            if rt.expires_at is not None and now >= rt.expires_at:
                raise InvalidGrantError("The refresh token has expired.")

            if rt.rotated_at is None:  # the current token of its line
                if k.rotate_refresh_tokens and not k.refresh_omits_refresh_token:
                    new = self.new_refresh_token(fam, rt.scope)
                    rt.rotated_at, rt.successor = now, new.token
                    return self._issue("refresh_rotated", fam, scope, new, ev)
                keep = None if k.refresh_omits_refresh_token else rt
                return self._issue("refresh_redeemed", fam, scope, keep, ev, omitted=k.refresh_omits_refresh_token)

            # A superseded token is being redeemed again.
            elapsed = now - rt.rotated_at
            if k.grace_mode == "never_revoke":
                new = self.new_refresh_token(fam, rt.scope)
                return self._issue("refresh_rotated", fam, scope, new, ev, superseded=True, elapsed_s=elapsed)
            in_grace = k.grace_s > 0 and elapsed < k.grace_s
            if in_grace and k.grace_mode == "reissue_new":
                new = self.new_refresh_token(fam, rt.scope)
                return self._issue("grace_reissued", fam, scope, new, ev, elapsed_s=elapsed, grace_s=k.grace_s)
            if in_grace and k.grace_mode == "return_current" and fam.current_rt:
                current = self.refresh_tokens[fam.current_rt]
                return self._issue("grace_returned_current", fam, scope, current, ev, elapsed_s=elapsed,
                                   grace_s=k.grace_s)

            self.event("reuse_detected", policy=k.reuse_policy, elapsed_s=elapsed, grace_s=k.grace_s,
                       successor=redact(rt.successor), **ev)
            if k.reuse_policy == "revoke_family":
                self.revoke_family(fam, reason="refresh_token_reuse")
            raise InvalidGrantError("The refresh token was already used.")

    def _issue(self, kind: str, fam: Family, scope: str, rt: RefreshToken | None, ev: dict[str, Any],
               **extra: Any) -> dict[str, Any]:
        """Mint the access token, journal ``kind`` and ``token_issued``, return the token response."""
        body = self.token_response(fam, scope, rt.token if rt else None)
        fields = {**ev, "refresh_token": redact(rt.token) if rt else None,
                  "new_generation": rt.generation if rt else None, "access_token": redact(body["access_token"])}
        if kind == "refresh_rotated" or kind == "grace_reissued":
            fields.update(old=ev["presented"], new=fields["refresh_token"])
        self.event(kind, **fields, **extra)
        self.event("token_issued", **fields)
        return body

    # -- revocation and expiry --------------------------------------------------------------------

    def revoke_family(self, fam: Family, reason: str) -> None:
        with self.lock:
            if fam.revoked:
                return
            fam.revoked, fam.revoked_reason = True, reason
            n_rt = 0
            for rt in self.refresh_tokens.values():
                if rt.family_id == fam.id and not rt.revoked:
                    rt.revoked = True
                    n_rt += 1
            n_at = sum(1 for at in self.access_tokens.values() if at.family_id == fam.id)
        self.event("family_revoked", client_id=fam.client_id, flow=fam.flow, family=fam.id, reason=reason,
                   refresh_tokens=n_rt, access_tokens=n_at)

    def revoke_access_tokens(self, client_id: str | None = None) -> int:
        """Revoke every live access token (of one client). Refresh tokens stay usable. Returns how many."""
        with self.lock:
            hit = [at for at in self.access_tokens.values()
                   if not at.revoked and (client_id is None or at.client_id == client_id)]
            for at in hit:
                at.revoked = True
        for at in hit:
            self.event("token_revoked", endpoint="admin", client_id=at.client_id, family=at.family_id,
                       token_type="access_token", access_token=redact(at.token), source="admin")
        return len(hit)

    def expire_access_tokens(self, client_id: str | None = None) -> int:
        """Make every access token (of one client) expired now, whatever the clock says."""
        with self.lock:
            hit = [at for at in self.access_tokens.values()
                   if not at.forced_expired and (client_id is None or at.client_id == client_id)]
            for at in hit:
                at.forced_expired = True
        return len(hit)

    def lookup_token(self, token: str, hint: str | None = None) -> TokenView | None:
        """A token of either kind, as revocation and introspection see it."""
        now = self.now()
        with self.lock:
            order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
            for kind in order:
                if kind == "access_token" and (at := self.access_tokens.get(token)):
                    fam = self.families.get(at.family_id or "")
                    return TokenView("access_token", at, expired=at.forced_expired or now >= at.expires_at,
                                     revoked=at.revoked or bool(fam and fam.revoked))
                if kind == "refresh_token" and (rt := self.refresh_tokens.get(token)):
                    fam = self.families.get(rt.family_id)
                    superseded = rt.rotated_at is not None and self.ctx.knobs.grace_mode != "never_revoke"
                    return TokenView("refresh_token", rt,
                                     expired=rt.expires_at is not None and now >= rt.expires_at,
                                     revoked=rt.revoked or bool(fam and fam.revoked) or superseded)
        return None

    def revoke_token(self, view: TokenView) -> None:
        """RFC 7009: a refresh token takes its whole grant (family) with it; an access token goes alone."""
        rec = view.record
        if isinstance(rec, RefreshToken):
            with self.lock:
                fam = self.families.get(rec.family_id)
            self.event("token_revoked", endpoint="revoke", client_id=rec.client_id, family=rec.family_id,
                       flow=fam.flow if fam else None, token_type="refresh_token", refresh_token=redact(rec.token))
            if fam:
                self.revoke_family(fam, reason="revoked_by_client")
        else:
            with self.lock:
                rec.revoked = True
            self.event("token_revoked", endpoint="revoke", client_id=rec.client_id, family=rec.family_id,
                       token_type="access_token", access_token=redact(rec.token))

    # -- the resource server's question -----------------------------------------------------------

    def validate_access_token(self, token: str, resource: str | None) -> AccessCheck:
        """Is this bearer token good for ``resource``? Checks signature, revocation, expiry, audience."""
        if not token or not isinstance(token, str):
            return AccessCheck(False, "malformed")
        claims: dict[str, Any] = {}
        if token.count(".") == 2:
            verified = self.ctx.keys.verify(token) if self.ctx.keys is not None else None
            if verified is None:
                return AccessCheck(False, "bad_signature")
            claims = verified
        with self.lock:
            rec = self.access_tokens.get(token)
            fam = self.families.get(rec.family_id or "") if rec else None
        if rec is None:
            return AccessCheck(False, "unknown", claims)
        claims = claims or dict(rec.claims)
        scope = set(rec.scope.split())
        if rec.revoked:
            return AccessCheck(False, "revoked", claims, scope)
        if fam is not None and fam.revoked:
            return AccessCheck(False, "family_revoked", claims, scope)
        if rec.forced_expired or self.now() >= rec.expires_at:
            return AccessCheck(False, "expired", claims, scope)
        if resource is not None and rec.aud != resource:
            return AccessCheck(False, "wrong_audience", claims, scope)
        return AccessCheck(True, None, claims, scope)
