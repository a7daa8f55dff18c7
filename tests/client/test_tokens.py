"""Refresh, CAS and scope logic with the MemoryStore: C08-C17, C19-C21, C24, C25, SCO-1/3."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from client_under_test.reference import (
    ClientConfig,
    CredentialsDead,
    TransientError,
    Unauthorized,
    union_scopes,
)
from client_under_test.reference.discovery import AuthServerMetadata, AuthTarget
from client_under_test.reference.discovery_urls import Challenge
from client_under_test.stores import MemoryStore, TokenRecord
from mock_as.clock import ManualClock
from tests.client.fakes import SERVER, FakeAS, make_client

pytestmark = pytest.mark.anyio


async def _logged_in(fake: FakeAS, store: MemoryStore | None = None, **kw):  # type: ignore[no-untyped-def]
    client = make_client(fake, store or MemoryStore(), **kw)
    rec = await client._on_401(None, None, client._auth_retry_budget())
    return client, rec


def test_union_and_step_up_scope() -> None:
    assert union_scopes("a b", "b c", None) == "a b c"
    client = make_client(FakeAS())
    assert client._step_up_scope("mcp:read", "mcp:write") == "mcp:read mcp:write"  # C25 / SCO-3


@pytest.mark.parametrize("challenge,prm,as_scopes,config_scope,expected", [
    ("s1", ["p1", "p2"], None, None, "s1"),
    (None, ["p1", "p2"], None, None, "p1 p2"),
    (None, None, None, None, None),
    (None, ["p1"], ["p1", "offline_access"], None, "p1 offline_access"),
    (None, None, ["offline_access"], None, None),
    ("s1", ["p1"], None, "explicit", "explicit"),
])
def test_select_scope(challenge, prm, as_scopes, config_scope, expected) -> None:  # type: ignore[no-untyped-def]
    client = make_client(FakeAS(), scope=config_scope)
    asm = AuthServerMetadata(issuer="i", authorization_endpoint="a", token_endpoint="t", scopes_supported=as_scopes)
    target = AuthTarget(SERVER, asm, prm={"scopes_supported": prm} if prm else None, challenge_scope=challenge)
    assert client._select_scope(target) == expected


def test_config_validates_lease_and_revision() -> None:
    with pytest.raises(ValueError, match="lock_lease_s"):
        ClientConfig(lock_lease_s=5, http_timeout_s=10)  # C11
    with pytest.raises(ValueError, match="revision"):
        ClientConfig(revision="2024-01-01")


async def test_concurrent_refresh_is_single_flight(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(form, request):  # type: ignore[no-untyped-def]
        if form.get("grant_type") == "refresh_token":
            entered.set()
            await release.wait()
        return None

    fake_as.token_hook = slow
    tasks = [asyncio.create_task(client._refresh(rec)) for _ in range(5)]
    await asyncio.wait_for(entered.wait(), 5)
    release.set()
    results = await asyncio.gather(*tasks)
    assert len(fake_as.token_forms("refresh_token")) == 1  # C08: one redemption
    assert len({r.access_token for r in results}) == 1
    assert (await client.tokens()).refresh_token == results[0].refresh_token  # C12: rotated RT persisted


async def test_replicas_share_refresh_lock_and_reread(fake_as: FakeAS) -> None:
    store = MemoryStore()
    a, rec = await _logged_in(fake_as, store)
    b = make_client(fake_as, store)  # another replica (another client instance, same store)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(form, request):  # type: ignore[no-untyped-def]
        if form.get("grant_type") == "refresh_token":
            entered.set()
            await release.wait()
        return None

    fake_as.token_hook = slow
    ta = asyncio.create_task(a._refresh(rec))
    await asyncio.wait_for(entered.wait(), 5)
    tb = asyncio.create_task(b._refresh(rec))
    await asyncio.sleep(0.05)
    release.set()
    ra, rb = await asyncio.gather(ta, tb)
    assert ra.access_token == rb.access_token  # C09: b re-read after the lock and adopted a's token
    assert len(fake_as.token_forms("refresh_token")) == 1
    assert any(e["kind"] == "refresh_adopted" for e in b.events)


async def test_401_with_older_token_retries_current_without_refresh(fake_as: FakeAS) -> None:
    client, old = await _logged_in(fake_as)
    newer = await client._refresh(old)
    got = await client._on_401(old, None, client._auth_retry_budget())
    assert got.access_token == newer.access_token
    assert len(fake_as.token_forms("refresh_token")) == 1  # C08 / C17: no second refresh


async def test_401_refreshes_before_interactive(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)
    got = await client._on_401(rec, None, client._auth_retry_budget())  # C14: locally valid, still refresh
    assert got.access_token != rec.access_token
    assert fake_as.paths("GET").count("/authorize") == 1
    assert len(fake_as.token_forms("refresh_token")) == 1


async def test_refresh_keeps_old_rt_when_omitted() -> None:
    fake = FakeAS(rotate=False)
    client, rec = await _logged_in(fake)
    got = await client._refresh(rec)
    assert got.refresh_token == rec.refresh_token  # C13
    assert (await client.tokens()).refresh_token == rec.refresh_token


async def test_resource_on_refresh_and_retry_without_it(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)

    def entra(form, request):  # type: ignore[no-untyped-def]
        if form.get("grant_type") == "refresh_token" and "resource" in form:
            return httpx.Response(400, json={"error": "invalid_target"})
        return None

    fake_as.token_hook = entra
    got = await client._refresh(rec)
    forms = fake_as.token_forms("refresh_token")
    assert forms[0]["resource"] == SERVER and "resource" not in forms[1]  # C24
    assert got.access_token


async def test_invalid_grant_clears_only_unchanged_tokens(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)
    fake_as.issued.refresh_tokens.clear()  # every refresh token is now dead
    with pytest.raises(CredentialsDead):
        await client._refresh(rec)
    assert await client.tokens() is None  # the stored RT was the one that failed: cleared

    client2, rec2 = await _logged_in(FakeAS())
    winner = dataclasses.replace(rec2, access_token="winner-at", refresh_token="winner-rt")
    await client2.store.cas_tokens(client2._token_key(), rec2.version, winner)
    assert not await client2._clear_tokens_if_unchanged(rec2)  # C10: the loser never wipes the winner
    assert (await client2.tokens()).refresh_token == "winner-rt"


@pytest.mark.parametrize("response", [
    httpx.Response(503, text="busy"),
    httpx.Response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}),
    httpx.Response(400, json={"error": "token_expired_try_again"}),
    httpx.Response(200, text="<html>login</html>"),
])
async def test_transient_errors_keep_credentials(fake_as: FakeAS, response: httpx.Response) -> None:
    client, rec = await _logged_in(fake_as)
    fake_as.token_hook = lambda form, request: response if form.get("grant_type") == "refresh_token" else None
    with pytest.raises(TransientError):
        await client._on_401(rec, None, client._auth_retry_budget())
    assert len(fake_as.token_forms("refresh_token")) == 3  # retried with backoff (attempts=3)
    assert (await client.tokens()).refresh_token == rec.refresh_token  # C20: nothing wiped
    assert fake_as.paths("GET").count("/authorize") == 1  # and no browser


async def test_timeout_is_transient(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)

    def boom(form, request):  # type: ignore[no-untyped-def]
        raise httpx.ReadTimeout("slow", request=request)

    fake_as.token_hook = boom
    with pytest.raises(TransientError):
        await client._refresh(rec)
    assert (await client.tokens()) is not None


async def test_bounded_retries_when_server_rejects_everything(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)
    budget = client._auth_retry_budget()
    sent = rec
    sent = await client._on_401(sent, None, budget)  # 1: refresh
    sent = await client._on_401(sent, None, budget)  # 2: interactive
    with pytest.raises(Unauthorized):
        await client._on_401(sent, None, budget)  # 3: give up (C19)
    assert len(fake_as.token_forms("refresh_token")) == 1
    assert fake_as.paths("GET").count("/authorize") == 2


async def test_step_up_is_bounded_and_uses_union(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as, scope="mcp:read")
    budget = client._auth_retry_budget()
    challenge = Challenge(params={"error": "insufficient_scope", "scope": "mcp:admin"})
    got = await client._on_403(rec, challenge, budget)
    assert set(got.scope.split()) == {"mcp:read", "mcp:admin"}  # SCO-3
    await client._on_403(got, challenge, budget)
    with pytest.raises(Exception, match="step-ups"):
        await client._on_403(got, challenge, budget)  # SCO-2: max_step_up=2


async def test_restart_with_expired_token_refreshes_proactively_at_persisted_endpoint() -> None:
    fake = FakeAS(token_path="/oauth2/v1/token")  # C16: {origin}/token would 404
    clock = ManualClock()
    store = MemoryStore(now=clock.now)
    client, rec = await _logged_in(fake, store, clock=clock)
    assert rec.expires_at == pytest.approx(clock.now() + 3600)  # C15: absolute
    clock.advance(3601)
    restarted = make_client(fake, store, clock=clock)  # a new instance: no in-memory state
    got = await restarted._bearer_for_request()
    assert got is not None and got.access_token != rec.access_token
    assert fake.requests[-1].url.path == "/oauth2/v1/token"
    assert "/token" not in fake.paths("POST")


async def test_no_refresh_when_fresh_and_refresh_with_skew(fake_as: FakeAS) -> None:
    clock = ManualClock()
    client, rec = await _logged_in(fake_as, MemoryStore(now=clock.now), clock=clock)
    assert (await client._bearer_for_request()).access_token == rec.access_token
    clock.advance(3600 - 10)  # inside the skew
    assert (await client._bearer_for_request()).access_token != rec.access_token


async def test_invalid_client_forgets_dcr_registration_only(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)
    fake_as.token_hook = lambda form, req: httpx.Response(401, json={"error": "invalid_client"})
    with pytest.raises(CredentialsDead):
        await client._refresh(rec)
    issuer, uris = client._registration_key(fake_as.issuer)
    assert await client.store.get_registration(issuer, uris) is None  # C21: the dead DCR client is forgotten

    pre = FakeAS()
    pclient, prec = await _logged_in(pre, pre_registered={"client_id": "pre-1", "client_secret": "s"})
    pre.token_hook = lambda form, req: httpx.Response(401, json={"error": "invalid_client"})
    with pytest.raises(Exception) as info:
        await pclient._refresh(prec)
    assert not isinstance(info.value, CredentialsDead)  # C21: pre-registered credentials are never wiped
    assert (await pclient.tokens()) is not None
    assert pre.requests[-1].headers["authorization"].startswith("Basic ")


async def test_pre_registered_only_for_its_issuer(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as, pre_registered={"client_id": "pre-1", "issuer": "https://as2.example"})
    assert rec.client_id != "pre-1" and fake_as.paths("POST").count("/register") == 1  # REG-3, C26


async def test_token_record_fields(fake_as: FakeAS) -> None:
    client, rec = await _logged_in(fake_as)
    stored = await client.tokens()
    assert isinstance(stored, TokenRecord)
    assert (stored.issuer, stored.resource, stored.client_id) == (fake_as.issuer, SERVER, rec.client_id)
