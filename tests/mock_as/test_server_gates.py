"""Gates force interleavings: requests are parked until the test releases them, never ordered by sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mock_as import Gate
from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.mock_as.server_helpers import HTTP, tokens

AS_WK = "/.well-known/oauth-authorization-server"


class Background:
    """Run a request in a thread; its result (response or exception) is read after join()."""

    def __init__(self, fn: Callable[[], httpx.Response]) -> None:
        self.result: Any = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], httpx.Response]) -> None:
        try:
            self.result = fn()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            self.result = exc

    def join(self) -> Any:
        self._thread.join(10)
        assert not self._thread.is_alive(), "the request did not finish"
        return self.result


@pytest.fixture
def srv() -> MockServer:
    knobs = Knobs(rotate_refresh_tokens=True, reuse_policy="reject")
    with MockServer(knobs=knobs) as server:
        yield server


def _refresh(srv: MockServer, tok: dict[str, Any], actor: str) -> Callable[[], httpx.Response]:
    def go() -> httpx.Response:
        return HTTP.post(tok["token_endpoint"], headers={"x-harness-actor": actor}, data={
            "grant_type": "refresh_token", "refresh_token": tok["refresh_token"], "client_id": tok["client_id"]})
    return go


def _responses(srv: MockServer, endpoint: str) -> list[tuple[str | None, int | None]]:
    return [(e.actor, e.data["status"]) for e in srv.journal.entries("response") if e.endpoint == endpoint]


def test_request_gate_orders_two_refreshes(srv: MockServer) -> None:
    tok = tokens(srv)
    gate = srv.arm_gate(Gate("refresh", "token", match={"grant_type": "refresh_token"}))
    first = Background(_refresh(srv, tok, "tab-1"))
    assert gate.wait_waiting(1)
    second = Background(_refresh(srv, tok, "tab-2"))
    assert gate.wait_waiting(2)
    assert not srv.journal.entries("refresh_rotated")  # nothing reached the endpoint yet
    assert gate.release(1) == 1
    assert first.join().status_code == 200
    assert gate.release(1) == 1
    r2 = second.join()
    assert r2.status_code == 400 and r2.json()["error"] == "invalid_grant"  # the same RT, redeemed twice
    assert _responses(srv, "token")[-2:] == [("tab-1", 200), ("tab-2", 400)]
    held = [(e.actor, e.data["gate"], e.data["phase"]) for e in srv.journal.entries("gate_held")]
    assert held == [("tab-1", "refresh", "request"), ("tab-2", "refresh", "request")]
    assert [e.actor for e in srv.journal.entries("gate_released")] == ["tab-1", "tab-2"]
    assert gate.describe()["held_total"] == 2 and gate.describe()["released_total"] == 2


def test_release_order_follows_arrival_and_unmatched_requests_pass(srv: MockServer) -> None:
    gate = srv.arm_gate(Gate("meta", "as_metadata"))
    bg = []
    for i in range(3):
        bg.append(Background(lambda i=i: HTTP.get(srv.urls.origin + AS_WK, headers={"x-harness-actor": f"r{i}"})))
        assert gate.wait_waiting(i + 1)
    assert HTTP.get(srv.urls.prm).status_code == 200  # another endpoint is not held
    for i in (0, 1, 2):
        gate.release(1)
        assert bg[i].join().status_code == 200
    assert [a for a, _ in _responses(srv, "as_metadata")] == ["r0", "r1", "r2"]


def test_response_gate_holds_after_commit(srv: MockServer) -> None:
    tok = tokens(srv)
    gate = srv.arm_gate(Gate("hold-refresh-response", "token", match={"grant_type": "refresh_token"},
                             phase="response"))
    bg = Background(_refresh(srv, tok, "tab-1"))
    assert gate.wait_waiting(1)
    # the rotation is committed, the client has not heard back: exactly the window of C08/C09
    assert srv.journal.entries("refresh_rotated")
    assert not [e for e in srv.journal.entries("response") if e.endpoint == "token" and e.actor == "tab-1"]
    gate.release()
    r = bg.join()
    assert r.status_code == 200 and r.json()["refresh_token"] != tok["refresh_token"]
    kinds = [e.kind for e in srv.journal.entries() if e.actor == "tab-1"]
    assert kinds.index("refresh_rotated") < kinds.index("gate_held") < kinds.index("gate_released") \
        < kinds.index("response")


def test_release_at_is_a_barrier(srv: MockServer) -> None:
    srv.arm_gate(Gate("barrier", "as_metadata", release_at=3))
    bg = [Background(lambda i=i: HTTP.get(srv.urls.origin + AS_WK, headers={"x-harness-actor": f"b{i}"}))
          for i in range(3)]
    assert [b.join().status_code for b in bg] == [200, 200, 200]  # no release() call: the third one opened it
    assert len(srv.journal.entries("gate_released")) == 3


def test_max_holds_and_open(srv: MockServer) -> None:
    gate = srv.arm_gate(Gate("once", "as_metadata", max_holds=1))
    held = Background(lambda: HTTP.get(srv.urls.origin + AS_WK))
    assert gate.wait_waiting(1)
    assert HTTP.get(srv.urls.origin + AS_WK).status_code == 200  # the second one passes straight
    gate.open()
    assert held.join().status_code == 200
    assert HTTP.get(srv.urls.origin + AS_WK).status_code == 200


def test_gate_safety_timeout_is_journaled(srv: MockServer) -> None:
    srv.arm_gate(Gate("forgotten", "as_metadata", timeout_s=0.05))
    assert HTTP.get(srv.urls.origin + AS_WK).status_code == 200
    (released,) = srv.journal.entries("gate_released")
    assert released.data["timed_out"] is True


def test_gate_on_mcp_tool_call() -> None:
    from tests.mock_as.server_helpers import call_tool, initialize

    with MockServer() as srv:
        tok = tokens(srv)["access_token"]
        gate = srv.arm_gate(Gate("tool", "mcp", match={"method": "tools/call", "tool": "echo"}))
        assert initialize(HTTP, srv, tok).status_code == 200  # not held
        bg = Background(lambda: call_tool(HTTP, srv, tok))
        assert gate.wait_waiting(1)
        gate.release()
        assert bg.join().status_code == 200


def test_two_gates_with_the_same_name_are_refused(srv: MockServer) -> None:
    srv.arm_gate(Gate("g", "token"))
    with pytest.raises(ValueError, match="already armed"):
        srv.arm_gate(Gate("g", "register"))
