"""MockServer: real uvicorn on loopback, URLs known up front, knobs at runtime, fast clean start/stop."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from mock_as import ManualClock
from mock_as.knobs import KnobError, Knobs
from mock_as.server import MockServer, measure_start_stop
from tests.mock_as.server_helpers import HTTP, tokens


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is fine
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_urls_are_known_and_served_on_real_loopback() -> None:
    with MockServer(knobs=Knobs(), clock=ManualClock()) as srv:
        u = srv.urls
        assert u.origin.startswith("http://127.0.0.1:") and u.as_origin == u.origin == u.issuer
        assert srv.mcp_url == u.resource == u.origin + "/mcp"
        assert u.prm == u.origin + "/.well-known/oauth-protected-resource/mcp"
        r = HTTP.get(u.origin + "/.well-known/oauth-authorization-server")
        assert r.status_code == 200 and r.json()["issuer"] == u.issuer
        assert srv.ctx.state is not None and srv.ctx.keys is not None
        assert srv.journal is srv.ctx.journal and srv.gates is srv.ctx.gates and srv.faults is srv.ctx.faults
        assert isinstance(srv.clock, ManualClock)


def test_start_stop_without_with_and_port_is_released() -> None:
    srv = MockServer().start()
    port = int(srv.urls.origin.rsplit(":", 1)[1])
    assert HTTP.get(srv.urls.origin + "/.well-known/oauth-authorization-server").status_code == 200
    srv.stop()
    srv.stop()  # idempotent
    assert _port_free(port)
    with pytest.raises(httpx.ConnectError):
        HTTP.get(srv.urls.origin + "/.well-known/oauth-authorization-server")
    with pytest.raises(RuntimeError, match="already started"):
        srv.start()


def test_fixed_port_can_be_reused_right_after_stop() -> None:
    with MockServer() as first:
        port = int(first.urls.origin.rsplit(":", 1)[1])
    with MockServer(port=port) as second:
        assert second.urls.origin.endswith(f":{port}")
        assert HTTP.get(second.urls.origin + "/.well-known/oauth-authorization-server").status_code == 200


def test_port_in_use_raises_oserror() -> None:
    with MockServer() as srv:
        port = int(srv.urls.origin.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            MockServer(port=port).start()


def test_many_start_stop_cycles_leave_no_threads(capsys: pytest.CaptureFixture[str]) -> None:
    before = {t.name for t in threading.enumerate()}
    mean = measure_start_stop(20)
    time.sleep(0)  # nothing to wait for: stop() joins the thread
    after = {t.name for t in threading.enumerate() if t.name.startswith("mock_as:")}
    assert not after - before
    with capsys.disabled():
        print(f"\n[mock_as] start+stop: {mean * 1000:.1f} ms per server (mean of 20)")


def test_stop_is_prompt_with_an_open_session_and_a_held_gate() -> None:
    from mock_as.gates import Gate

    srv = MockServer().start()
    gate = srv.arm_gate(Gate("hold", "as_metadata", timeout_s=30))
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            HTTP.get(srv.urls.origin + "/.well-known/oauth-authorization-server", timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    t = threading.Thread(target=blocked)
    t.start()
    assert gate.wait_waiting(1, timeout=5)
    started = time.perf_counter()
    srv.stop()
    elapsed = time.perf_counter() - started
    t.join(5)
    assert errors, "the held request ends when the server stops"
    assert elapsed < 5, elapsed  # a safety net, not a benchmark: stop() must not wait out the gate's timeout


def test_set_knobs_validates_and_journals() -> None:
    with MockServer() as srv:
        srv.set_knobs(access_token_ttl="2s", rotate_refresh_tokens=True)
        assert srv.knobs.access_token_ttl == 2.0 and srv.ctx.knobs.rotate_refresh_tokens
        (entry,) = srv.journal.entries("knobs_changed")
        assert entry.data["changes"] == {"access_token_ttl": 2.0, "rotate_refresh_tokens": True}
        with pytest.raises(KnobError, match="reuse_policy"):
            srv.set_knobs(reuse_policy="sometimes")
        with pytest.raises(KnobError, match="unknown knob"):
            srv.set_knobs(no_such_knob=1)
        with pytest.raises(KnobError, match="second origin"):
            srv.set_knobs(layout="as_separate_origin")
        assert srv.knobs.reuse_policy == "reject"


def test_set_knobs_layout_moves_urls_and_routes() -> None:
    with MockServer() as srv:
        urls = srv.urls
        srv.set_knobs(layout="issuer_path")
        assert srv.urls is urls and urls.issuer == urls.origin + "/tenant1"
        r = HTTP.get(urls.origin + "/.well-known/oauth-authorization-server/tenant1")
        assert r.status_code == 200 and r.json()["issuer"] == urls.issuer
        assert HTTP.get(urls.origin + "/.well-known/oauth-authorization-server").status_code == 404


def test_revoke_expire_and_reset() -> None:
    with MockServer(clock=ManualClock()) as srv:
        tok = tokens(srv)
        check = srv.state.validate_access_token(tok["access_token"], srv.mcp_url)
        assert check.ok
        assert srv.expire_access_tokens() == 1
        assert srv.state.validate_access_token(tok["access_token"], srv.mcp_url).reason == "expired"
        tok2 = tokens(srv)
        assert srv.revoke_access_tokens() >= 1
        assert srv.state.validate_access_token(tok2["access_token"], srv.mcp_url).reason == "revoked"
        srv.set_knobs(access_token_ttl=5)
        srv.arm_fault({"endpoint": "token", "action": "error", "times": None})
        srv.reset()
        assert srv.knobs == Knobs() and srv.faults.describe() == [] and srv.gates.describe() == []
        assert [e.kind for e in srv.journal.entries()] == ["reset"]
        assert srv.state.validate_access_token(tok2["access_token"], srv.mcp_url).reason == "unknown"


def test_advance_clock_needs_a_manual_clock() -> None:
    from mock_as.admin import ClockNotManual

    with MockServer() as srv, pytest.raises(ClockNotManual):
        srv.advance_clock(5)
    clock = ManualClock(start=1000.0)
    with MockServer(clock=clock) as srv:
        assert srv.advance_clock("30s") == 1030.0
        assert srv.journal.entries("clock_advanced")[0].data["seconds"] == 30.0


def test_request_log_callback_gets_one_line_per_request() -> None:
    lines: list[dict] = []
    with MockServer(request_log=lines.append) as srv:
        HTTP.get(srv.urls.origin + "/.well-known/oauth-authorization-server", headers={"x-harness-actor": "tab-1"})
        HTTP.get(srv.urls.origin + "/_admin/knobs")
    assert [(d["method"], d["path"], d["status"], d["endpoint"], d["actor"]) for d in lines] == [
        ("GET", "/.well-known/oauth-authorization-server", 200, "as_metadata", "tab-1"),
        ("GET", "/_admin/knobs", 200, "admin", None)]
    assert all(isinstance(d["duration_ms"], float) for d in lines)
