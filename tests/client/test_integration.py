"""The reference client against the real mock servers (mock_as.MockServer) on loopback.

Races are forced with the mock's gates and the journal, never with sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from client_under_test.reference import AuthorizationFailed, ClientConfig, ReferenceClient, RetryPolicy
from client_under_test.stores import MemoryStore, SqliteStore
from client_under_test.user_agent import HeadlessUserAgent
from mock_as import Gate, Knobs, ManualClock
from mock_as.server import MockServer

pytestmark = pytest.mark.anyio

REFRESHES = ("refresh_rotated", "refresh_redeemed", "grace_reissued", "grace_returned_current")


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """The mock servers; ``knobs(...)`` / ``manual_clock`` parametrize it indirectly."""
    params = dict(getattr(request, "param", {}))
    clock = ManualClock() if params.pop("manual_clock", False) else None
    with MockServer(knobs=Knobs(**params), clock=clock) as srv:
        yield srv


def knobs(**values: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("server", [values], indirect=True, ids=["knobs"])


def client_for(srv: MockServer, store: Any = None, ua: HeadlessUserAgent | None = None, **config: Any) -> ReferenceClient:
    config.setdefault("retry", RetryPolicy(backoff_base_s=0.0))
    config.setdefault("flow_poll_s", 0.005)
    config.setdefault("flow_wait_s", 10.0)
    return ReferenceClient(srv.mcp_url, store if store is not None else MemoryStore(now=srv.clock.now),
                           ua or HeadlessUserAgent(), ClientConfig(**config), srv.clock)


def kinds(srv: MockServer, *names: str) -> list[Any]:
    return [e for e in srv.journal.entries() if e.kind in names]


def requests_to(srv: MockServer, endpoint: str) -> list[Any]:
    return [e for e in srv.journal.entries("request") if e.endpoint == endpoint]


async def test_full_flow(server: MockServer) -> None:
    client = client_for(server)
    async with client.session(actor="tab-1") as s:
        tools = await s.list_tools()
        assert {t.name for t in tools.tools} >= {"echo", "add_numbers"}
        result = await s.call_tool("echo", {"text": "hi"})
        assert result.content[0].text == "hi"
    await client.aclose()
    assert len(kinds(server, "client_registered")) == 1
    assert len(kinds(server, "code_issued")) == 1
    consent = kinds(server, "consent")[0]
    assert consent.data["resource"] == server.mcp_url  # RES-1
    reqs = server.journal.entries("request")
    assert reqs and all(e.actor == ("browser" if e.endpoint == "authorize" else "tab-1") for e in reqs)


async def test_mid_session_401_refreshes_before_interactive(server: MockServer) -> None:
    client = client_for(server)
    async with client.session() as s:
        await s.call_tool("echo", {"text": "1"})
        server.revoke_access_tokens()  # the AT still looks valid locally (C14)
        await s.call_tool("echo", {"text": "2"})
    await client.aclose()
    assert len(kinds(server, *REFRESHES)) == 1
    assert len(kinds(server, "consent")) == 1  # no second /authorize


@knobs(rotate_refresh_tokens=True, reuse_policy="revoke_family", grace_s=0)
async def test_burst_behind_one_401_redeems_refresh_token_once(server: MockServer) -> None:
    client = client_for(server)
    async with client.session() as s:
        await s.call_tool("echo", {"text": "warm-up"})
        gate = server.arm_gate(Gate("refresh", endpoint="token", match={"grant_type": "refresh_token"},
                                    phase="response"))
        server.revoke_access_tokens()
        since = server.journal.last_seq
        n = 5
        calls = [asyncio.create_task(s.call_tool("echo", {"text": str(i)})) for i in range(n)]
        assert await asyncio.to_thread(gate.wait_waiting, 1, 10)
        # all n calls are behind the one 401 (each was rejected) while the refresh response is held
        assert await asyncio.to_thread(server.journal.wait_for, lambda es: sum(
            1 for e in es if e.kind == "token_rejected" and e.seq > since) >= n, 10)
        gate.release()
        results = await asyncio.gather(*calls)
    await client.aclose()
    assert [r.content[0].text for r in results] == [str(i) for i in range(n)]
    assert len(kinds(server, *REFRESHES)) == 1  # C08: exactly one redemption
    assert not kinds(server, "reuse_detected", "family_revoked")
    assert len(kinds(server, "consent")) == 1


@knobs(rotate_refresh_tokens=True, manual_clock=True)
async def test_restart_with_expired_token(server: MockServer, tmp_path: Any) -> None:
    store = SqliteStore(str(tmp_path / "store.sqlite3"), now=server.clock.now)
    first = client_for(server, store)
    async with first.session() as s:
        await s.call_tool("echo", {"text": "before"})
    await first.aclose()
    server.advance_clock(3601)  # past the AT TTL, on the shared manual clock
    since = server.journal.last_seq
    restarted = client_for(server, store)  # a new instance: only the store survives (C12, C15, C16)
    async with restarted.session() as s:
        assert (await s.call_tool("echo", {"text": "after"})).content[0].text == "after"
    await restarted.aclose()
    await store.close()
    after = [e for e in server.journal.entries() if e.seq > since]
    assert not [e for e in after if e.kind == "token_rejected"]  # proactive refresh: no stale bearer
    assert [e for e in after if e.kind in REFRESHES]
    assert not [e for e in after if e.kind == "consent"]


@knobs(refresh_omits_refresh_token=True)
async def test_refresh_response_without_refresh_token(server: MockServer) -> None:
    client = client_for(server)
    async with client.session() as s:
        for i in range(3):
            server.revoke_access_tokens()
            await s.call_tool("echo", {"text": str(i)})
    await client.aclose()
    assert len(kinds(server, *REFRESHES)) == 3  # C13: the old RT kept working
    assert len(kinds(server, "consent")) == 1


async def test_two_tabs_racing_one_register_one_authorize(server: MockServer) -> None:
    reached, consent = asyncio.Event(), asyncio.Event()

    async def user_consents(flow: Any) -> None:
        reached.set()
        await consent.wait()

    ua = HeadlessUserAgent(delay=user_consents)
    client = client_for(server, ua=ua)

    async def tab(name: str) -> str:
        async with client.session(actor=name) as s:
            return (await s.call_tool("echo", {"text": name})).content[0].text

    tabs = [asyncio.create_task(tab("tab-1")), asyncio.create_task(tab("tab-2"))]
    assert await asyncio.to_thread(server.journal.wait_for, lambda es: sum(
        1 for e in es if e.kind == "token_rejected") >= 2, 10)  # both tabs were told to authorize
    await asyncio.wait_for(reached.wait(), 10)
    consent.set()
    assert sorted(await asyncio.gather(*tabs)) == ["tab-1", "tab-2"]
    await client.aclose()
    assert len(kinds(server, "client_registered")) == 1  # C01
    assert len(requests_to(server, "authorize")) == 1  # C07
    assert len(kinds(server, "code_redeemed")) == 1


@knobs(consent="deny")
async def test_consent_denied_fails_fast(server: MockServer) -> None:
    client = client_for(server)
    with pytest.raises(AuthorizationFailed) as info:
        async with client.session() as s:
            await s.list_tools()
    await client.aclose()
    assert info.value.error == "access_denied"
    assert not [e for e in requests_to(server, "token")]  # C06: no /token
    assert len(requests_to(server, "authorize")) == 1  # and no re-prompt loop


@knobs(step_up_scope="mcp:admin", scopes_supported=["mcp:read", "mcp:write", "mcp:admin"])
async def test_step_up_requests_union(server: MockServer) -> None:
    client = client_for(server, scope="mcp:read")  # the first flow asks for less than tools/call needs
    async with client.session() as s:
        await s.list_tools()
        assert (await s.call_tool("echo", {"text": "up"})).content[0].text == "up"
    await client.aclose()
    scopes = [set((e.data.get("scope") or "").split()) for e in kinds(server, "consent")]
    assert len(scopes) == 2 and scopes[1] == scopes[0] | {"mcp:admin"}  # SCO-3 / C25


@knobs(rotate_refresh_tokens=True, resource_policy="reject_on_refresh")
async def test_entra_like_resource_rejection_on_refresh(server: MockServer) -> None:
    client = client_for(server)
    async with client.session() as s:
        await s.call_tool("echo", {"text": "1"})
        server.revoke_access_tokens()
        await s.call_tool("echo", {"text": "2"})
    await client.aclose()
    assert len(kinds(server, *REFRESHES)) == 1  # C24: retried once without resource
    assert len(kinds(server, "consent")) == 1


async def test_callback_delivered_to_another_replica(server: MockServer, tmp_path: Any) -> None:
    path = str(tmp_path / "store.sqlite3")
    replica2 = client_for(server, SqliteStore(path, now=server.clock.now))
    ua = HeadlessUserAgent(deliver_to=replica2)
    replica1 = client_for(server, SqliteStore(path, now=server.clock.now), ua=ua)
    async with replica1.session(actor="replica-1") as s:
        await s.call_tool("echo", {"text": "x"})
    for c in (replica1, replica2):
        await c.aclose()
        await c.store.close()
    assert any(e["kind"] == "callback_ok" for e in replica2.events)  # C05
    assert len(kinds(server, "code_redeemed")) == 1
