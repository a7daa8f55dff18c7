"""The reference MCP OAuth client: the yardstick of the harness.

Usage::

    client = ReferenceClient(server_url, store, user_agent, config=ClientConfig(...), clock=clock)
    async with client.session(actor="tab-1") as s:
        await s.list_tools()
        await s.call_tool("echo", {"text": "hi"})
    await client.handle_callback({"code": ..., "state": ..., "iss": ...})  # the user agent calls this

Modules: ``config`` (ClientConfig, RetryPolicy), ``errors`` (classified errors), ``discovery`` (PRM and
AS metadata), ``registration`` (pre-registered / CIMD / DCR), ``flows`` (interactive flows and
callbacks), ``tokens`` (token endpoint, refresh, CAS), ``transport`` (httpx2 auth for the mcp SDK),
``client`` (ReferenceClient, ReferenceSession).

Mutants subclass :class:`ReferenceClient` and override exactly ONE of these methods. Each guards the
catalogue entry (``shared/bug-catalogue.md``) or spec requirement next to it:

==========================================  =========  ===========================================================
method                                      guards     the reference does
==========================================  =========  ===========================================================
``_registration_for(asm)``                  C01        reuse the stored registration; register under a lock with a
                                                       re-read and ``put_registration(if_absent=True)``
``_client_for_exchange(flow)``              C01        redeem the code as the client_id used at /authorize
``_verifier_for(flow)``                     C02        the verifier bound to the flow's own state (a mutant reads
                                                       ``self._latest_flow[flow.flow_key].verifier`` instead)
``_flow_for_callback(state)``               C03        look the callback up by its state; unknown/finished rejected
                                                       (a mutant: ``store.pending_flow(self._flow_key())``)
``_take_flow(state)``                       C04        ``store.take_flow``: one exchange per code
``_flow_store()``                           C05        flows in the shared store, TTL ``flow_ttl_s``
``_on_callback_error(flow, params)``        C06        fail the flow at once with the AS error, no /token
``_claim_flow(flow)``                       C07        ``store.claim_flow``: one flow per (tenant, user, server)
``_token_obtained_meanwhile(rej, scope)``   C07        adopt tokens a just-finished flow stored (before/after claim)
``_refresh_lock(key)``                      C08        in-process lock + store lock around the refresh
``_store_refresh_lock(key)``                C09        cross-process lock (sqlite / redis)
``_reread_after_lock(stale)``               C09        re-read the store after the lock; adopt a newer token
``_is_newer(current, stale)``               C08, C17   a different AT/RT in the store is adopted, not refreshed
``_clear_tokens_if_unchanged(rec)``         C10        clear only if the stored RT is still the one that failed
``_lock_lease()``                           C11        (lock_lease_s > http_timeout_s, renewed while held)
``_write_refreshed(old, new)``              C12        CAS-persist the rotated RT with the AT before use
``_merge_refresh_response(old, resp)``      C13        keep the old RT when the response omits one
``_refresh_before_interactive()``           C14        True: a 401 refreshes before any interactive flow
``_expires_at(resp)``                       C15        absolute expiry (clock.now() + expires_in)
``_needs_proactive_refresh(rec)``           C15        refresh shortly before the absolute expiry
``_token_endpoint_for_refresh(rec)``        C16        the persisted token endpoint (or rediscovery), never a guess
``_current_token()``                        C17        read the store on every request
``_hold_auth_lock_across_response()``       C18        False: the auth lock covers bearer selection only
``_auth_retry_budget()``                    C19        one refresh, one interactive flow, max_step_up per request
``_credentials_dead(err, reg)``             C20        sees every refresh failure; only invalid_grant (and
                                                       invalid_client for DCR) kills credentials
``_classify_token_failure(status, doc)``    C20        5xx / HTML / non-standard errors are transient
``_may_reregister(reg)``                    C21        re-register only a reused DCR client (once)
``_forget_registration(reg)``               C21        never delete pre-registered or CIMD credentials
``_registration_key(issuer, redirect)``     C22, C26   key = (AS issuer, [redirect_uri])
``_prm_urls(challenge)``                    C23        header URL, path-aware, root (PRM-1/2)
``_as_metadata_urls(issuer)``               C23        ASM-2 order per revision; LEG-1 for 2025-03-26
``_continue_discovery(status)``             C23        continue on 4xx, stop on 5xx
``_include_resource_on_refresh(rec)``       C24        send resource on refresh (RES-1)
``_resource_rejected(err)``                 C24        invalid_target / "resource" -> retry once without it
``_step_up_scope(current, challenged)``     C25        union of old and challenged scopes (SCO-3)
``_pre_registered_for(asm)``                C26        pre-registered credentials only for their issuer
``_check_prm_resource(prm, url, kind)``     PRM-3      refuse a PRM for another resource
``_validate_as_metadata(asm, issuer)``      ASM-3      issuer check; PKCE-1/2 (S256 or refuse)
``_check_iss(flow, params)``                ISS-1      RFC 9207 iss, exact, also on error callbacks
``_select_scope(target)``                   SCO-1      challenge scope, else PRM scopes_supported, else omit
``_resource_param()``                       RES-1      canonical server URI on authorize and token
``_dcr_request(asm)``                       REG-3      application_type, grant_types with refresh_token
==========================================  =========  ===========================================================
"""

from client_under_test.reference.client import ReferenceClient, ReferenceSession, RequestBudget, union_scopes
from client_under_test.reference.config import REVISIONS, ClientConfig, RetryPolicy
from client_under_test.reference.errors import (
    AuthorizationFailed,
    CallbackRejected,
    ClientError,
    CredentialsDead,
    DiscoveryError,
    FlowTimeout,
    InsufficientScope,
    InteractiveAuthRequired,
    MetadataRejected,
    PKCEUnsupported,
    RegistrationError,
    ResourceMismatch,
    TokenEndpointError,
    TransientError,
    Unauthorized,
    classify,
)
from client_under_test.reference.flows import CallbackResult
from client_under_test.reference.registration import Registration

__all__ = [
    "REVISIONS", "AuthorizationFailed", "CallbackRejected", "CallbackResult", "ClientConfig", "ClientError",
    "CredentialsDead", "DiscoveryError", "FlowTimeout", "InsufficientScope", "InteractiveAuthRequired",
    "MetadataRejected", "PKCEUnsupported", "ReferenceClient", "ReferenceSession", "Registration",
    "RegistrationError", "RequestBudget", "ResourceMismatch", "RetryPolicy", "TokenEndpointError",
    "TransientError", "Unauthorized", "classify", "union_scopes",
]
