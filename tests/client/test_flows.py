"""Interactive flows: PKCE, state and iss (PKCE-1, STATE-1, ISS-1), callback dispatch by state (C03),
one exchange per code (C04), error= callbacks (C06), single flight across tabs and replicas (C01, C05, C07)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from urllib.parse import parse_qsl, urlsplit

import pytest

from client_under_test.reference import AuthorizationFailed
from client_under_test.stores import MemoryStore
from client_under_test.user_agent import HeadlessUserAgent
from tests.client.fakes import SERVER, FakeAS, make_client

pytestmark = pytest.mark.anyio


def _authorize_query(fake: FakeAS, n: int = 0) -> dict[str, str]:
    reqs = [r for r in fake.requests if r.url.path.endswith("/authorize")]
    return dict(parse_qsl(reqs[n].url.query.decode()))


async def test_full_flow_pkce_state_resource(fake_as: FakeAS) -> None:
    client = make_client(fake_as)
    rec = await client._on_401(None, None, client._auth_retry_budget())
    assert rec.access_token == "at-3" and rec.refresh_token == "rt-3"
    q = _authorize_query(fake_as)
    assert q["code_challenge_method"] == "S256" and q["state"] and q["resource"] == SERVER
    assert q["scope"] == "mcp:read mcp:write"  # SCO-1: all PRM scopes_supported
    exchange = fake_as.token_forms("authorization_code")[0]
    verifier = exchange["code_verifier"]
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == \
        q["code_challenge"]
    assert exchange["resource"] == SERVER and exchange["client_id"] == q["client_id"]
    stored = await client.tokens()
    assert stored is not None and stored.token_endpoint == "https://mcp.example/token" and stored.expires_at


async def test_dcr_request_shape(fake_as: FakeAS) -> None:
    import json

    client = make_client(fake_as)
    await client._on_401(None, None, client._auth_retry_budget())
    reg = json.loads(next(r for r in fake_as.requests if r.url.path == "/register").content)
    assert reg["application_type"] == "native" and "refresh_token" in reg["grant_types"]
    assert reg["token_endpoint_auth_method"] == "none"


class Catcher(HeadlessUserAgent):
    """Opens the URL but keeps the callback params instead of delivering them."""

    def __init__(self, fake: FakeAS) -> None:
        super().__init__(http_transport=fake.transport())
        self.params: list[dict[str, str]] = []
        self.opened = asyncio.Event()

    async def authorize(self, url, *, client, flow=None):  # type: ignore[no-untyped-def]
        self.params.append(await self.open(url))
        self.opened.set()


async def _start_flow(fake: FakeAS, **kw):  # type: ignore[no-untyped-def]
    ua = Catcher(fake)
    client = make_client(fake, ua=ua, **kw)
    task = asyncio.create_task(client._on_401(None, None, client._auth_retry_budget()))
    await asyncio.wait_for(ua.opened.wait(), 5)
    return client, ua, task


async def test_unknown_and_forged_state_leave_live_flow_alone(fake_as: FakeAS) -> None:
    client, ua, task = await _start_flow(fake_as)
    good = ua.params[0]
    forged = await client.handle_callback({**good, "state": "forged"})
    assert (forged.accepted, forged.reason) == (False, "unknown_state")
    no_state = await client.handle_callback({"code": good["code"]})
    assert no_state.reason == "missing_state"
    assert fake_as.token_forms() == []  # nothing exchanged
    ok = await client.handle_callback(good)
    assert ok.accepted
    assert (await task).access_token


async def test_duplicate_and_stale_callbacks(fake_as: FakeAS) -> None:
    client, ua, task = await _start_flow(fake_as)
    good = ua.params[0]
    first, second = await asyncio.gather(client.handle_callback(good), client.handle_callback(good))
    assert sorted([first.accepted, second.accepted]) == [False, True]
    assert {first.reason, second.reason} <= {"ok", "duplicate", "finished"}
    assert len(fake_as.token_forms("authorization_code")) == 1  # C04: one exchange per code
    await task
    # a second flow later; the first flow's callback replayed is stale and does not disturb it
    ua.opened.clear()
    current = await client.tokens()
    task2 = asyncio.create_task(client._authorize_interactively(await client._discover(None), None, current))
    await asyncio.wait_for(ua.opened.wait(), 5)
    stale = await client.handle_callback(good)
    assert (stale.accepted, stale.reason) == (False, "finished")
    assert (await client.handle_callback(ua.params[1])).accepted
    await task2
    assert len(fake_as.token_forms("authorization_code")) == 2


async def test_error_callback_fails_flow_without_token_request(fake_as: FakeAS) -> None:
    client, ua, task = await _start_flow(fake_as)
    state = ua.params[0]["state"]
    res = await client.handle_callback({"error": "access_denied", "state": state, "iss": fake_as.issuer})
    assert (res.accepted, res.reason, res.error) == (False, "error", "access_denied")
    with pytest.raises(AuthorizationFailed) as info:
        await task
    assert info.value.error == "access_denied"
    assert fake_as.token_forms() == []
    assert len([r for r in fake_as.requests if r.url.path == "/authorize"]) == 1  # no re-prompt loop


@pytest.mark.parametrize("mode,reason", [("omitted", "iss_missing"), ("wrong", "iss_mismatch")])
async def test_iss_checked(mode: str, reason: str) -> None:
    fake = FakeAS(send_iss=mode)
    client, ua, task = await _start_flow(fake)
    res = await client.handle_callback(ua.params[0])
    assert (res.accepted, res.reason) == (False, reason)
    with pytest.raises(AuthorizationFailed):
        await task
    assert fake.token_forms() == []


async def test_iss_wrong_on_error_response(fake_as: FakeAS) -> None:
    client, ua, task = await _start_flow(fake_as)
    res = await client.handle_callback({"error": "access_denied", "state": ua.params[0]["state"],
                                        "iss": "https://evil.example"})
    assert res.reason == "iss_mismatch"
    with pytest.raises(AuthorizationFailed, match="iss_mismatch"):
        await task


async def test_iss_optional_when_not_advertised() -> None:
    fake = FakeAS(send_iss="omitted", iss_supported=False)
    client = make_client(fake)
    assert (await client._on_401(None, None, client._auth_retry_budget())).access_token


async def test_tabs_share_one_registration_and_one_flow(fake_as: FakeAS) -> None:
    reached, gate = asyncio.Event(), asyncio.Event()

    async def consent(flow):  # type: ignore[no-untyped-def]
        reached.set()
        await gate.wait()

    ua = HeadlessUserAgent(delay=consent, http_transport=fake_as.transport())
    client = make_client(fake_as, ua=ua)
    tabs = [asyncio.create_task(client._on_401(None, None, client._auth_retry_budget())) for _ in range(4)]
    await asyncio.wait_for(reached.wait(), 5)
    gate.set()
    recs = await asyncio.gather(*tabs)
    assert len({r.access_token for r in recs}) == 1
    assert fake_as.paths("POST").count("/register") == 1  # C01
    assert fake_as.paths("GET").count("/authorize") == 1  # C07
    assert len(fake_as.token_forms("authorization_code")) == 1


async def test_callback_on_another_replica(fake_as: FakeAS) -> None:
    store = MemoryStore()
    replica2 = make_client(fake_as, store)
    ua = HeadlessUserAgent(deliver_to=replica2, http_transport=fake_as.transport())
    replica1 = make_client(fake_as, store, ua=ua)
    rec = await replica1._on_401(None, None, replica1._auth_retry_budget())
    assert rec.access_token
    assert any(e["kind"] == "callback_ok" for e in replica2.events)  # C05: the flow state was shared
    assert not any(e["kind"] == "callback_ok" for e in replica1.events)


async def test_user_agent_deny_and_deliver_twice(fake_as: FakeAS) -> None:
    ua = HeadlessUserAgent(deny=True, http_transport=fake_as.transport())
    client = make_client(fake_as, ua=ua)
    with pytest.raises(AuthorizationFailed) as info:
        await client._on_401(None, None, client._auth_retry_budget())
    assert info.value.error == "access_denied" and fake_as.token_forms() == []

    fake2 = FakeAS()
    ua2 = HeadlessUserAgent(deliver_twice=True, forge_state=True, http_transport=fake2.transport())
    client2 = make_client(fake2, ua=ua2)
    assert (await client2._on_401(None, None, client2._auth_retry_budget())).access_token
    delivered = [(e["label"], e["reason"]) for e in ua2.events if e["kind"] == "deliver"]
    assert delivered[0] == ("forged", "unknown_state") and delivered[1] == ("callback", "ok")
    assert delivered[2][1] in ("finished", "duplicate")
    assert len(fake2.token_forms("authorization_code")) == 1


async def test_registration_reused_across_restart_and_rekeyed_on_port_change(fake_as: FakeAS) -> None:
    store = MemoryStore()
    c1 = make_client(fake_as, store)
    await c1._on_401(None, None, c1._auth_retry_budget())
    await store.cas_tokens(c1._token_key(), (await store.get_tokens(c1._token_key())).version, None)
    c2 = make_client(fake_as, store)
    await c2._on_401(None, None, c2._auth_retry_budget())
    assert fake_as.paths("POST").count("/register") == 1
    c3 = make_client(fake_as, store, redirect_uri="http://127.0.0.1:40001/callback")  # C22: new port
    await store.cas_tokens(c1._token_key(), (await store.get_tokens(c1._token_key())).version, None)
    await c3._on_401(None, None, c3._auth_retry_budget())
    assert fake_as.paths("POST").count("/register") == 2
    q = _authorize_query(fake_as, 2)
    assert q["redirect_uri"] == "http://127.0.0.1:40001/callback" and q["client_id"] != _authorize_query(
        fake_as, 0)["client_id"]


def test_authorize_url_has_no_bearer(fake_as: FakeAS) -> None:
    # TOK-1 sanity: the authorization URL carries the PKCE challenge, never a token or verifier
    client = make_client(fake_as)
    from client_under_test.reference.discovery import AuthServerMetadata, AuthTarget
    from client_under_test.reference.registration import Registration

    asm = AuthServerMetadata(issuer="https://mcp.example", authorization_endpoint="https://mcp.example/authorize",
                             token_endpoint="https://mcp.example/token")
    flow = client._new_flow(AuthTarget(SERVER, asm), Registration("dcr", "c1", asm.issuer), "a b")
    q = dict(parse_qsl(urlsplit(flow.authorization_url).query))
    assert flow.verifier not in flow.authorization_url and q["state"] == flow.state and q["scope"] == "a b"
