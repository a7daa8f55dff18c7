"""Refresh tokens: rotation, reuse detection, grace windows and the real-server presets."""

from __future__ import annotations

import threading

import httpx
import pytest

from mock_as.knobs import PRESETS
from tests.mock_as.conftest import ASHarness


def _preset(as_server: ASHarness, name: str, **overrides: object) -> None:
    as_server.set_knobs(**PRESETS[name], preset=name, **overrides)


def _ok(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def _invalid_grant(r: httpx.Response) -> None:
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_rotation_then_reuse_revokes_family_auth0(as_server: ASHarness) -> None:
    _preset(as_server, "auth0")  # grace 0: no window at all
    client_id, t1 = as_server.login()
    t2 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    assert t2["refresh_token"] != t1["refresh_token"]
    rotated = as_server.journal.entries("refresh_rotated")[-1]
    assert rotated.data["new_generation"] == 2 and rotated.data["old"] == t1["refresh_token"][:8] + "…"
    _invalid_grant(as_server.refresh(client_id, t1["refresh_token"]))
    _invalid_grant(as_server.refresh(client_id, t2["refresh_token"]))  # the family died with the reuse
    assert [e.kind for e in as_server.journal.entries(("reuse_detected", "family_revoked"))] == \
        ["reuse_detected", "family_revoked"]
    check = as_server.ctx.state.validate_access_token(t2["access_token"], as_server.resource)
    assert check.reason == "family_revoked"


def test_reuse_policy_reject_keeps_the_family(as_server: ASHarness) -> None:
    as_server.set_knobs(rotate_refresh_tokens=True, reuse_policy="reject")
    client_id, t1 = as_server.login()
    t2 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    _invalid_grant(as_server.refresh(client_id, t1["refresh_token"]))
    assert not as_server.journal.entries("family_revoked")
    _ok(as_server.refresh(client_id, t2["refresh_token"]))


def test_okta_grace_window_reissues_then_revokes(as_server: ASHarness) -> None:
    _preset(as_server, "okta")  # 30 s
    client_id, t1 = as_server.login()
    t2 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    as_server.clock.advance(29)
    t3 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    assert t3["refresh_token"] not in (t1["refresh_token"], t2["refresh_token"])
    assert as_server.journal.entries("grace_reissued")[-1].data["elapsed_s"] == 29
    as_server.clock.advance(1)  # the window is [0, 30)
    _invalid_grant(as_server.refresh(client_id, t1["refresh_token"]))
    assert as_server.journal.entries("family_revoked", reason="refresh_token_reuse")
    _invalid_grant(as_server.refresh(client_id, t3["refresh_token"]))


def test_gotrue_grace_returns_the_current_token(as_server: ASHarness) -> None:
    _preset(as_server, "gotrue")  # 10 s
    client_id, t1 = as_server.login()
    t2 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    as_server.clock.advance(5)
    again = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    assert again["refresh_token"] == t2["refresh_token"] and again["access_token"] != t2["access_token"]
    assert as_server.journal.entries("grace_returned_current")
    as_server.clock.advance(5)
    _invalid_grant(as_server.refresh(client_id, t1["refresh_token"]))
    _invalid_grant(as_server.refresh(client_id, t2["refresh_token"]))


def test_entra_never_revokes_and_rejects_resource_on_refresh(as_server: ASHarness) -> None:
    _preset(as_server, "entra")
    client_id, t1 = as_server.login()
    t2 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    as_server.clock.advance(3600)
    t3 = _ok(as_server.refresh(client_id, t1["refresh_token"]))  # old tokens stay valid
    assert len({t1["refresh_token"], t2["refresh_token"], t3["refresh_token"]}) == 3
    _ok(as_server.refresh(client_id, t2["refresh_token"]))
    assert not as_server.journal.entries(("reuse_detected", "family_revoked"))
    r = as_server.refresh(client_id, t3["refresh_token"], resource=as_server.resource)
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"


def test_keycloak_without_rotation_reuses_the_token(as_server: ASHarness) -> None:
    _preset(as_server, "keycloak")
    client_id, t1 = as_server.login()
    for _ in range(3):
        assert _ok(as_server.refresh(client_id, t1["refresh_token"]))["refresh_token"] == t1["refresh_token"]
    assert len(as_server.journal.entries("refresh_redeemed")) == 3
    as_server.set_knobs(rotate_refresh_tokens=True)  # "when enabled": reuse is refused
    t2 = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    _invalid_grant(as_server.refresh(client_id, t1["refresh_token"]))
    _ok(as_server.refresh(client_id, t2["refresh_token"]))


def test_google_omits_the_refresh_token(as_server: ASHarness) -> None:
    _preset(as_server, "google")
    client_id, t1 = as_server.login()
    body = _ok(as_server.refresh(client_id, t1["refresh_token"]))
    assert "refresh_token" not in body
    _ok(as_server.refresh(client_id, t1["refresh_token"]))  # the old one keeps working


def test_refresh_tokens_can_be_switched_off_and_expire(as_server: ASHarness) -> None:
    as_server.set_knobs(refresh_token_ttl=100)
    client_id, t1 = as_server.login()
    as_server.clock.advance(100)
    _invalid_grant(as_server.refresh(client_id, t1["refresh_token"]))
    as_server.set_knobs(issue_refresh_tokens=False)
    _, t = as_server.login()
    assert "refresh_token" not in t


def test_refresh_by_another_client_and_scope_widening_are_refused(as_server: ASHarness) -> None:
    client_id, t1 = as_server.login(scope="mcp:read")
    other = as_server.register()["client_id"]
    _invalid_grant(as_server.refresh(other, t1["refresh_token"]))
    r = as_server.refresh(client_id, t1["refresh_token"], scope="mcp:read mcp:write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("policy,with_resource,status", [
    ("require", False, 400), ("require", True, 200), ("ignore", False, 200), ("ignore", True, 200),
    ("reject_on_refresh", False, 200), ("reject_on_refresh", True, 400)])
def test_resource_policy_on_refresh(as_server: ASHarness, policy: str, with_resource: bool, status: int) -> None:
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id, resource=as_server.resource)
    t1 = _ok(as_server.exchange(flow, resource=as_server.resource))
    as_server.set_knobs(resource_policy=policy)
    r = as_server.refresh(client_id, t1["refresh_token"], resource=as_server.resource if with_resource else None)
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["error"] == "invalid_target"
        refused = as_server.journal.entries("token_refused")[-1]
        assert refused.data["error"] == "invalid_target" and refused.family


K = 8


def test_concurrent_redemptions_of_one_refresh_token_give_exactly_one_success(as_server: ASHarness) -> None:
    """K threads redeem one refresh token at the same moment: under reject / no grace, exactly one wins."""
    as_server.set_knobs(rotate_refresh_tokens=True, reuse_policy="reject", grace_mode="none")
    client_id, t1 = as_server.login()
    barrier = threading.Barrier(K)
    statuses: list[int] = []
    lock = threading.Lock()

    def redeem() -> None:
        barrier.wait()  # one shared client (thread-safe pool): a new httpx.Client costs ~100 ms
        r = as_server.http.post("/token", data={"grant_type": "refresh_token", "refresh_token": t1["refresh_token"],
                                                "client_id": client_id})
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=redeem) for _ in range(K)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(statuses) == [200] + [400] * (K - 1)
    assert len(as_server.journal.entries("refresh_rotated")) == 1
    assert len(as_server.journal.entries("reuse_detected")) == K - 1


def test_concurrent_exchanges_of_one_code_give_exactly_one_success(as_server: ASHarness) -> None:
    client_id = as_server.register()["client_id"]
    flow = as_server.authorize(client_id)
    barrier = threading.Barrier(K)
    statuses: list[int] = []
    lock = threading.Lock()

    def exchange() -> None:
        barrier.wait()
        r = as_server.exchange(flow)
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=exchange) for _ in range(K)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(statuses) == [200] + [400] * (K - 1)
    assert len(as_server.journal.entries("code_redeemed")) == 1
    assert len(as_server.journal.entries("code_replayed")) == K - 1
