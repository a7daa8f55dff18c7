"""Interactive authorization-code flows with PKCE, single-flight across tabs and replicas.

A flow lives in the shared store keyed by its ``state`` (verifier, client_id, redirect_uri, issuer bound
to it, C01/C02/C05). ``claim_flow`` lets at most one flow run per (tenant, user, server); other tabs and
replicas join it and wait for its outcome (C07). Callbacks are dispatched by ``state``; unknown, finished
and duplicate ones are rejected without touching the live flow (C03); each code is exchanged once
(``take_flow``, C04); an ``error=`` callback fails its flow at once (C06).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from client_under_test.reference.discovery import AuthTarget
from client_under_test.reference.errors import (
    AuthorizationFailed,
    ClientError,
    FlowTimeout,
    InteractiveAuthRequired,
    TokenEndpointError,
)
from client_under_test.reference.registration import Registration
from client_under_test.reference.tokens import TokensMixin
from client_under_test.stores import PendingFlow, TokenRecord


@dataclass
class CallbackResult:
    """What ``handle_callback`` did with one redirect. ``reason`` is stable: ok, missing_state,
    unknown_state, finished, duplicate, iss_missing, iss_mismatch, error, exchange_failed, missing_code."""

    accepted: bool
    reason: str
    state: str | None = None
    error: str | None = None
    error_description: str | None = None


def short(state: str | None) -> str | None:
    return None if state is None else state[:8]


class FlowsMixin(TokensMixin):
    # -- overridable decisions ----------------------------------------------------------------------
    def _flow_store(self) -> Any:
        """C05: flow state lives in the SHARED store (keyed by state, TTL >= consent wait)."""
        return self.store

    async def _claim_flow(self, flow: PendingFlow) -> PendingFlow:
        """C07: single flight per flow_key; returns the live flow (ours, or the one we join)."""
        return await self._flow_store().claim_flow(flow)

    async def _flow_for_callback(self, state: str) -> PendingFlow | None:
        """C03: a callback is dispatched by ITS state; only a live flow with that state matches."""
        return await self._flow_store().get_flow(state)

    async def _take_flow(self, state: str) -> PendingFlow | None:
        """C04: atomically take the flow; exactly one delivery gets to exchange the code."""
        return await self._flow_store().take_flow(state)

    def _verifier_for(self, flow: PendingFlow) -> str:
        """C02: the verifier bound to this flow's state (not the latest one for the key)."""
        return flow.verifier

    async def _client_for_exchange(self, flow: PendingFlow) -> Registration:
        """C01: the code is redeemed by the client_id the flow used at /authorize."""
        return await self._credentials_for(flow.issuer, flow.client_id, flow.redirect_uri)

    async def _on_callback_error(self, flow: PendingFlow, params: dict[str, str]) -> CallbackResult:
        """C06: an ``error=`` callback fails its flow at once with the AS's error; no /token."""
        taken = await self._take_flow(flow.state)
        if taken is None:
            return self._reject(flow.state, "duplicate")
        error = params.get("error") or "unknown_error"
        await self._finish_flow(flow.state, {"ok": False, "error": error,
                                             "error_description": params.get("error_description")})
        self._event("callback_error", state=short(flow.state), error=error)
        return CallbackResult(False, "error", flow.state, error=error,
                              error_description=params.get("error_description"))

    def _check_iss(self, flow: PendingFlow, params: dict[str, str]) -> str | None:
        """ISS-1 (RFC 9207): exact compare with the issuer stored with the state; missing is fatal when
        the AS advertised support. Also applies to error responses."""
        extra = flow.extra or {}
        if not extra.get("issuer_verified", True):
            return None  # 2025-03-26 default endpoints: no metadata, no issuer to compare with
        iss = params.get("iss")
        if iss is None:
            return "iss_missing" if extra.get("iss_supported") else None
        return None if iss == flow.issuer else "iss_mismatch"

    def _resource_param(self) -> str | None:
        """RES-1: the canonical server URI on authorize and token requests (not in 2025-03-26)."""
        return None if self.config.revision == "2025-03-26" else self.resource

    # -- building a flow ----------------------------------------------------------------------------
    def _new_flow(self, target: AuthTarget, reg: Registration, scope: str | None) -> PendingFlow:
        """PKCE S256 always (PKCE-1), a fresh state (STATE-1), everything bound to the state."""
        state = generate_token(43)
        verifier = generate_token(64)
        resource = self._resource_param()
        extra_params: dict[str, str] = {"code_challenge": create_s256_code_challenge(verifier),
                                        "code_challenge_method": "S256"}
        if resource:
            extra_params["resource"] = resource
        url = prepare_grant_uri(target.asm.authorization_endpoint, reg.client_id, "code",
                                redirect_uri=self.config.redirect_uri, scope=scope, state=state, **extra_params)
        now = self._now()
        flow = PendingFlow(
            state=state, flow_key=self._flow_key(), verifier=verifier, client_id=reg.client_id,
            redirect_uri=self.config.redirect_uri, issuer=target.asm.issuer, authorization_url=url,
            created_at=now, expires_at=now + self.config.flow_ttl_s, resource=resource, scope=scope,
            extra={"token_endpoint": target.asm.token_endpoint, "iss_supported": target.asm.iss_parameter_supported,
                   "issuer_verified": not target.asm.legacy_defaults, "registration_kind": reg.kind,
                   "reused_registration": reg.reused})
        self._latest_flow[flow.flow_key] = flow
        return flow

    @property
    def _latest_flow(self) -> dict[str, PendingFlow]:
        """Bookkeeping only: the last flow this instance CREATED per flow_key (joined or not). The
        reference never reads it for a decision; a C02 mutant's ``_verifier_for`` does."""
        return self.__dict__.setdefault("_latest_flow_d", {})

    # -- callbacks ----------------------------------------------------------------------------------
    def _reject(self, state: str | None, reason: str, error: str | None = None) -> CallbackResult:
        self._event("callback_rejected", state=short(state), reason=reason)
        return CallbackResult(False, reason, state, error=error)

    async def handle_callback(self, params: dict[str, Any]) -> CallbackResult:
        """Deliver one redirect (``code``, ``state``, ``iss`` | ``error``...). Dispatched by ``state``;
        safe to call on any replica that shares the store."""
        params = {str(k): str(v) for k, v in params.items() if v is not None}
        state = params.get("state")
        if not state:
            return self._reject(None, "missing_state")
        flow = await self._flow_for_callback(state)
        if flow is None:
            finished = await self._flow_store().flow_outcome(state)
            return self._reject(state, "finished" if finished is not None else "unknown_state")
        bad_iss = self._check_iss(flow, params)
        if bad_iss:
            if await self._take_flow(flow.state) is None:
                return self._reject(flow.state, "duplicate")
            await self._finish_flow(flow.state, {"ok": False, "error": bad_iss,
                                                 "error_description": "RFC 9207 iss check failed"})
            return self._reject(flow.state, bad_iss, error=bad_iss)
        if "error" in params:
            return await self._on_callback_error(flow, params)
        code = params.get("code")
        if not code:
            if await self._take_flow(flow.state) is None:
                return self._reject(flow.state, "duplicate")
            await self._finish_flow(flow.state, {"ok": False, "error": "invalid_request",
                                                 "error_description": "callback without code"})
            return self._reject(flow.state, "missing_code")
        taken = await self._take_flow(flow.state)
        if taken is None:
            return self._reject(flow.state, "duplicate")
        try:
            rec = await self._exchange_code(taken, code)
        except ClientError as exc:
            outcome = {"ok": False, "error": exc.error or exc.code, "error_description": exc.description,
                       "reregister": getattr(exc, "reregister", False), "classified": exc.classify()}
            await self._finish_flow(taken.state, outcome)
            self._event("exchange_failed", state=short(taken.state), error=exc.error or exc.code)
            return CallbackResult(False, "exchange_failed", taken.state, error=exc.error or exc.code,
                                  error_description=exc.description)
        await self._finish_flow(taken.state, {"ok": True, "version": rec.version})
        self._event("callback_ok", state=short(taken.state))
        return CallbackResult(True, "ok", taken.state)

    async def _exchange_code(self, flow: PendingFlow, code: str) -> TokenRecord:
        reg = await self._client_for_exchange(flow)
        params = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
                  "code_verifier": self._verifier_for(flow)}
        if flow.resource:
            params["resource"] = flow.resource
        endpoint = (flow.extra or {}).get("token_endpoint") or (await self._as_metadata(flow.issuer)).token_endpoint
        try:
            response = await self._token_request(endpoint, params, reg)
        except TokenEndpointError as err:
            if err.error == "invalid_client" and await self._after_invalid_client(reg):
                err.reregister = True  # type: ignore[attr-defined]
            raise
        rec = self._record_from_response(response, issuer=flow.issuer, client_id=reg.client_id,
                                         token_endpoint=endpoint, resource=flow.resource, scope=flow.scope,
                                         redirect_uri=flow.redirect_uri)
        return await self._store_new_tokens(rec)

    async def _finish_flow(self, state: str, outcome: dict[str, Any]) -> None:
        await self._flow_store().finish_flow(state, outcome)
        event = self._flow_events.get(state)
        if event is not None:
            event.set()

    @property
    def _flow_events(self) -> dict[str, asyncio.Event]:
        return self.__dict__.setdefault("_flow_events_d", {})

    # -- running and joining flows ------------------------------------------------------------------
    async def _await_flow_outcome(self, flow: PendingFlow) -> dict[str, Any]:
        """Wait (bounded) for the flow's outcome in the store; wakes early for callbacks on this instance."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.outcome_wait_s
        event = self._flow_events.setdefault(flow.state, asyncio.Event())
        store = self._flow_store()
        while True:
            outcome = await store.flow_outcome(flow.state)
            if outcome is not None:
                return outcome
            if await store.get_flow(flow.state) is None and self._now() >= flow.expires_at:
                return {"ok": False, "error": "flow_expired"}
            remaining = deadline - loop.time()
            if remaining <= 0:
                return {"ok": False, "error": "flow_timeout"}
            # the store's change signal is armed by this call, right after the reads above (TokenStore.wait_changed)
            await _first_of(event.wait(), store.wait_changed(min(self.config.flow_poll_s, remaining)))

    async def _drive_flow(self, flow: PendingFlow, reg: Registration) -> dict[str, Any]:
        """Open the authorization URL in the user agent and wait for the outcome, wherever the callback lands."""
        if self.user_agent is None:
            outcome = {"ok": False, "error": "interactive_auth_required"}
            await self._fail_flow_if_untaken(flow, outcome)
            return outcome
        ua_task = asyncio.ensure_future(self.user_agent.authorize(flow.authorization_url, client=self, flow=flow))
        wait_task = asyncio.ensure_future(self._await_flow_outcome(flow))
        try:
            done, _ = await asyncio.wait({ua_task, wait_task}, return_when=asyncio.FIRST_COMPLETED)
            if ua_task in done and not wait_task.done() and ua_task.exception() is not None:
                exc = ua_task.exception()
                error = exc.error if isinstance(exc, ClientError) and exc.error else "user_agent_failed"
                outcome: dict[str, Any] = {"ok": False, "error": error, "error_description": str(exc)}
                if error == "invalid_client" and await self._after_invalid_client(reg):
                    outcome["reregister"] = True
                await self._fail_flow_if_untaken(flow, outcome)
            return await wait_task
        finally:
            if not wait_task.done():
                wait_task.cancel()
            if not ua_task.done():
                # Let the user agent finish what it is doing (a second delivery, say), briefly.
                await asyncio.wait({ua_task}, timeout=max(0.2, self.config.flow_poll_s * 10))
            if ua_task.done() and not ua_task.cancelled():
                ua_task.exception()  # retrieved: no "never retrieved" warning

    async def _fail_flow_if_untaken(self, flow: PendingFlow, outcome: dict[str, Any]) -> None:
        if await self._take_flow(flow.state) is not None:
            await self._finish_flow(flow.state, outcome)

    async def _token_obtained_meanwhile(self, rejected: TokenRecord | None, scope: str | None) -> TokenRecord | None:
        """C07: a flow another tab or replica just finished already produced tokens: use them.

        Newer than the rejected one, and (for a step-up) covering the scope we are about to ask for.
        """
        current = await self._current_token()
        if current is None or (rejected is not None and not self._is_newer(current, rejected)):
            return None
        if scope and not set(scope.split()) <= set((current.scope or "").split()):
            return None if rejected is not None else current
        return current

    async def _authorize_interactively(self, target: AuthTarget, scope: str | None,
                                       rejected: TokenRecord | None = None) -> TokenRecord:
        """Start or join the one interactive flow for this (tenant, user, server) and return its tokens.

        ``rejected`` is the token the server refused (None: none was sent); a newer token that appears
        meanwhile is adopted instead of starting another flow.
        """
        reregistered = False
        while True:
            if (adopted := await self._token_obtained_meanwhile(rejected, scope)) is not None:
                self._event("flow_avoided", version=adopted.version)
                return adopted
            reg = await self._registration_for(target.asm)
            flow = self._new_flow(target, reg, scope)
            winner = await self._claim_flow(flow)
            if winner.state == flow.state:
                # Tokens are stored before a flow finishes, so re-reading after winning the claim closes the
                # window between "no token yet" and "the previous flow just finished".
                if (adopted := await self._token_obtained_meanwhile(rejected, scope)) is not None:
                    await self._fail_flow_if_untaken(winner, {"ok": False, "error": "superseded"})
                    self._event("flow_avoided", version=adopted.version)
                    return adopted
                self._event("flow_started", state=short(flow.state), client_id=reg.client_id, scope=scope)
                outcome = await self._drive_flow(winner, reg)
            else:
                self._event("flow_joined", state=short(winner.state))
                outcome = await self._await_flow_outcome(winner)
            if outcome.get("ok"):
                rec = await self._current_token()
                if rec is None:
                    raise InteractiveAuthRequired("the flow completed but no tokens are stored")
                return rec
            error = str(outcome.get("error") or "authorization_failed")
            if error == "invalid_client" and outcome.get("reregister") and not reregistered:
                reregistered = True  # C21: once
                continue
            if error in ("flow_timeout", "flow_expired"):
                raise FlowTimeout(f"the authorization flow did not complete ({error})", error=error)
            raise AuthorizationFailed(f"authorization failed: {error}", error=error,
                                      description=outcome.get("error_description"))


async def _first_of(*aws: Any) -> None:
    """Wait until the first of ``aws`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
