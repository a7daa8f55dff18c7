"""The headless browser's scenario behaviours used by suites/flows/: hold_until_flows (C01/C02/C07),
abandon + replay_stale and forged callbacks (C03), concurrent duplicate delivery (C04)."""

from __future__ import annotations

import asyncio

import pytest

from client_under_test.reference import FlowTimeout
from client_under_test.user_agent import HeadlessUserAgent
from tests.client.fakes import FakeAS, make_client

pytestmark = pytest.mark.anyio


def _delivered(ua: HeadlessUserAgent) -> list[tuple[str, str]]:
    return [(e["label"], e["reason"]) for e in ua.events if e["kind"] == "deliver"]


async def test_hold_until_flows_opens_the_url_once_the_other_tab_joined(fake_as: FakeAS) -> None:
    ua = HeadlessUserAgent(hold_until_flows=2, http_transport=fake_as.transport())
    client = make_client(fake_as, ua=ua)
    tabs = [asyncio.create_task(client._on_401(None, None, client._auth_retry_budget())) for _ in range(2)]
    recs = await asyncio.gather(*tabs)
    assert recs[0].access_token == recs[1].access_token
    kinds = [e["kind"] for e in ua.events]
    assert "hold_released" in kinds and "hold_timeout" not in kinds
    assert {e["kind"] for e in client.events} >= {"flow_started", "flow_joined"}
    assert fake_as.paths("GET").count("/authorize") == 1


async def test_hold_is_bounded(fake_as: FakeAS) -> None:
    ua = HeadlessUserAgent(hold_until_flows=2, timeout_s=0.05, http_transport=fake_as.transport())
    client = make_client(fake_as, ua=ua)
    assert (await client._on_401(None, None, client._auth_retry_budget())).access_token
    assert any(e["kind"] == "hold_timeout" for e in ua.events)


async def test_abandoned_callback_is_replayed_as_stale_and_forged_code_is_foreign(fake_as: FakeAS) -> None:
    ua = HeadlessUserAgent(abandon=1, replay_stale=True, forge_state=True, http_transport=fake_as.transport())
    client = make_client(fake_as, ua=ua, flow_ttl_s=0.3)  # A expires (wall clock here)
    with pytest.raises(FlowTimeout):
        await client._on_401(None, None, client._auth_retry_budget())
    assert any(e["kind"] == "abandon" for e in ua.events) and fake_as.token_forms() == []
    stale = dict(ua._previous or {})
    assert (await client._on_401(None, None, client._auth_retry_budget())).access_token
    assert ua.delivered[0] == stale  # the abandoned flow's callback, delivered into the new flow
    assert ua.delivered[1]["code"].startswith("forged-") and ua.delivered[1]["state"].startswith("forged-")
    assert [label for label, _ in _delivered(ua)] == ["stale", "forged", "callback"]
    assert _delivered(ua)[2][1] == "ok"
    assert [f["code"] for f in fake_as.token_forms("authorization_code")] == [ua.delivered[2]["code"]]


async def test_duplicate_delivered_concurrently_is_exchanged_once(fake_as: FakeAS) -> None:
    ua = HeadlessUserAgent(deliver_twice_concurrently=True, http_transport=fake_as.transport())
    client = make_client(fake_as, ua=ua)
    assert (await client._on_401(None, None, client._auth_retry_budget())).access_token
    assert sorted(label for label, _ in _delivered(ua)) == ["callback", "duplicate"]
    assert sorted(reason for _, reason in _delivered(ua))[1] == "ok"
    assert len(fake_as.token_forms("authorization_code")) == 1
