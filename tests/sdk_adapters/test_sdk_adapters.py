"""The real-SDK adapters: drivers complete a full flow against the mock, outcomes parse, capabilities are honest.

Also pins what each SDK really does in the two catalogued races (C14 for mcp 2.3.0, C08 for
@modelcontextprotocol/sdk 1.32.2), read from the mock's journal, so a version bump that changes either
behaviour is noticed here first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from client_under_test.adapters import mcp_python_sdk, ts_sdk
from client_under_test.adapters.mcp_python_sdk import McpPythonSdkAdapter
from client_under_test.adapters.ts_sdk import TsSdkAdapter
from harness.model import CAPABILITIES, Outcome, Scenario, ScenarioEnv
from harness.script import Driver, HarnessActions
from mock_as.knobs import Knobs
from mock_as.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
ROTATING = {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_s": 0}
BASIC = [{"do": "connect"}, {"do": "list_tools"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "hi"}}]


def ts_or_skip() -> TsSdkAdapter:
    adapter = TsSdkAdapter()
    if adapter.unavailable:
        pytest.skip(adapter.unavailable)
    return adapter


ADAPTERS = {"mcp-python-sdk": McpPythonSdkAdapter, "ts-sdk": ts_or_skip}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Any:
    return ADAPTERS[request.param]()


@pytest.fixture
def server():
    with MockServer(Knobs(**ROTATING)) as srv:
        yield srv


def env_for(srv: MockServer, tmp_path: Path, actions: list[dict[str, Any]], **context: Any) -> ScenarioEnv:
    scenario = Scenario(id="sdk/adapter-test", title="adapter test", actions=tuple(actions), checks=(),
                        context=context, timeout_s=60)
    harness = HarnessActions(srv)
    return ScenarioEnv(scenario=scenario, server=srv, server_url=srv.mcp_url, store_spec="memory",
                       state_dir=tmp_path / "state", revision="2025-11-25", clock=srv.clock,
                       _driver_factory=lambda acts: Driver(harness, acts), _apply=harness.apply)


def run(adapter: Any, srv: MockServer, tmp_path: Path, actions: list[dict[str, Any]], **context: Any) -> Outcome:
    env = env_for(srv, tmp_path, actions, **context)
    return anyio.run(adapter.run, env, actions)


def kinds(srv: MockServer, since: int = 0) -> list[str]:
    return [e.kind for e in srv.journal.entries(since=since)]


def grant(e: Any) -> str | None:
    return e.data.get("grant_type")


# -- full flows ----------------------------------------------------------------------------------------

def test_full_flow(adapter: Any, server: MockServer, tmp_path: Path) -> None:
    out = run(adapter, server, tmp_path, BASIC)
    assert out.ok, (out.errors, out.log)
    assert [s.action["do"] for s in out.steps] == ["connect", "list_tools", "call_tool"]
    assert all(s.ok and s.error is None for s in out.steps)
    assert "1 interactive authorization" in out.steps[0].detail
    ks = kinds(server)
    for kind in ("client_registered", "code_issued", "code_redeemed", "token_issued"):
        assert kind in ks, kind
    actors = {e.actor for e in server.journal.entries(kind="code_issued")}
    assert actors == {"main"}, "the driver labels its requests with x-harness-actor"
    assert (tmp_path / "state").is_dir() and any((tmp_path / "state").iterdir()), "tokens persisted in state_dir"


def test_restart_reuses_persisted_tokens(adapter: Any, server: MockServer, tmp_path: Path) -> None:
    actions = [{"do": "connect"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "a"}},
               {"do": "restart"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "b"}}]
    out = run(adapter, server, tmp_path, actions)
    assert out.ok, (out.errors, out.log)
    assert len(server.journal.entries(kind="code_issued")) == 1, "a restart must not need a new authorization"


def test_harness_actions_between_steps_keep_the_session(adapter: Any, server: MockServer, tmp_path: Path) -> None:
    actions = [{"do": "connect"}, {"do": "arm_fault", "fault": {"endpoint": "mcp", "action": "unauthorized"}},
               {"do": "call_tool", "name": "echo", "arguments": {"text": "a"}}]
    out = run(adapter, server, tmp_path, actions)
    assert [s.action["do"] for s in out.steps] == ["connect", "call_tool"], "harness actions are not client steps"
    assert [e for e in server.journal.entries(kind="fault_injected")], "the fault was armed mid-session"
    assert [e for e in server.journal.entries(kind="harness") if e.data.get("do") == "arm_fault"]


def test_during_actions_run_while_the_step_is_in_flight(adapter: Any, server: MockServer, tmp_path: Path) -> None:
    gate = {"name": "hold-mcp", "endpoint": "mcp", "match": {"method": "tools/call"}, "timeout_s": 10}
    actions = [{"do": "connect"}, {"do": "arm_gate", "gate": gate},
               {"do": "call_tool", "name": "echo", "arguments": {"text": "a"},
                "during": [{"do": "wait_gate", "gate": "hold-mcp", "waiting": 1},
                           {"do": "release_gate", "gate": "hold-mcp"}]}]
    out = run(adapter, server, tmp_path, actions)
    assert out.ok, (out.errors, out.log)
    released = [e for e in server.journal.entries(kind="harness") if e.data.get("do") == "release_gate"]
    assert released and released[0].data.get("released") == 1


# -- the contract, by hand -----------------------------------------------------------------------------

def contract_command(name: str) -> list[str]:
    if name == "mcp-python-sdk":
        return [sys.executable, "-m", mcp_python_sdk.DRIVER_MODULE]
    return ts_or_skip().command()


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_driver_under_the_plain_conformance_contract(name: str, server: MockServer, tmp_path: Path) -> None:
    cmd = contract_command(name)
    ctx = {"state_dir": str(tmp_path), "outcome_json": True}
    proc = subprocess.run([*cmd, server.mcp_url], capture_output=True, text=True, timeout=90, cwd=ROOT,
                          env={**os.environ, "MCP_CONFORMANCE_SCENARIO": "auth/basic",
                               "MCP_CONFORMANCE_CONTEXT": json.dumps(ctx)})
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stdout + proc.stderr
    outcome = json.loads(lines[0])
    assert outcome["ok"] is True and proc.returncode == 0, proc.stderr[-2000:]
    assert outcome["scenario"] == "auth/basic"
    assert [s["do"] for s in outcome["steps"]] == ["connect", "list_tools", "call_tool"]
    assert outcome["steps"][1]["tools"] and "echo" in outcome["steps"][1]["tools"]
    assert outcome["authorizations"] == 1
    assert outcome["sdk"]["version"] == ("2.3.0" if name == "mcp-python-sdk" else "1.32.2")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_driver_without_a_harness_reports_harness_actions_as_unsupported(name: str, server: MockServer,
                                                                         tmp_path: Path) -> None:
    cmd = contract_command(name)
    ctx = {"state_dir": str(tmp_path), "outcome_json": True,
           "actions": [{"do": "connect"}, {"do": "advance_clock", "seconds": 5}]}
    proc = subprocess.run([*cmd, server.mcp_url], capture_output=True, text=True, timeout=90, cwd=ROOT,
                          env={**os.environ, "MCP_CONFORMANCE_CONTEXT": json.dumps(ctx)})
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1 and outcome["ok"] is False
    assert outcome["steps"][0]["ok"] is True
    assert outcome["errors"] == [{"step": 1, "kind": "unsupported", "message": outcome["steps"][1]["error"]}]


# -- what the SDKs really do (the catalogue's evidence) ------------------------------------------------

def test_mcp_python_sdk_reauthorizes_on_a_mid_session_401_c14(server: MockServer, tmp_path: Path) -> None:
    actions = [{"do": "connect"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "a"}},
               {"do": "arm_fault", "fault": {"endpoint": "mcp", "action": "unauthorized", "times": 1}},
               {"do": "call_tool", "name": "echo", "arguments": {"text": "b"}}]
    out = run(McpPythonSdkAdapter(), server, tmp_path, actions)
    assert out.ok, (out.errors, out.log)
    rejected = server.journal.entries(kind="token_rejected")[-1]
    after = server.journal.entries(since=rejected.seq)
    assert rejected.data.get("reason") == "injected"
    assert [e for e in after if e.kind == "code_issued"], "mcp 2.3.0 sends a new /authorize on the 401"
    assert not [e for e in after if e.endpoint == "token" and grant(e) == "refresh_token"], \
        "mcp 2.3.0 never tries the refresh token first (C14); if this fails, the SDK changed"


def test_ts_sdk_redeems_one_refresh_token_per_concurrent_call_c08(server: MockServer, tmp_path: Path) -> None:
    adapter = ts_or_skip()
    n = 4
    gate = {"name": "refresh", "endpoint": "token", "match": {"grant_type": "refresh_token"},
            "phase": "response", "release_at": n, "timeout_s": 5}
    actions = [{"do": "connect"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "a"}},
               {"do": "arm_gate", "gate": gate}, {"do": "expire_tokens"},
               {"do": "burst", "n": n, "name": "echo", "arguments": {"text": "x"}}]
    out = run(adapter, server, tmp_path, actions)
    expired = server.journal.entries(kind="tokens_expired")[-1].seq
    redeemed = [e for e in server.journal.entries(since=expired)
                if e.endpoint == "token" and grant(e) == "refresh_token"
                and e.kind in ("refresh_rotated", "reuse_detected", "token_refused")]
    exchanges = {e.exchange for e in redeemed}  # one token request each (reuse_detected + token_refused share one)
    prefixes = {e.data.get("presented") or e.data.get("refresh_token") for e in redeemed}  # the one sent
    assert len(exchanges) == n and len(prefixes) == 1, \
        f"@modelcontextprotocol/sdk 1.32.2 redeems one refresh token once per concurrent call (C08): {redeemed}"
    assert server.journal.entries(kind="reuse_detected", since=expired)
    assert server.journal.entries(kind="family_revoked", since=expired)
    assert out.steps[-1].action["do"] == "burst"


# -- declarations and availability ---------------------------------------------------------------------

@pytest.mark.parametrize("cls", [McpPythonSdkAdapter, TsSdkAdapter])
def test_capabilities_are_honest(cls: type) -> None:
    caps = cls.capabilities
    assert caps <= CAPABILITIES
    assert {"dcr", "refresh", "restart"} <= caps
    # one process, one session, the system clock, their own browser; CIMD needs an HTTPS URL
    assert not caps & {"tabs", "replicas", "clock", "callbacks", "cimd"}


def test_names() -> None:
    assert McpPythonSdkAdapter.name == "mcp-python-sdk"
    assert TsSdkAdapter.name == "ts-sdk"


def test_registered() -> None:
    from client_under_test.adapters import registry

    assert registry._FACTORIES.get("mcp-python-sdk") is McpPythonSdkAdapter
    assert registry._FACTORIES.get("ts-sdk") is TsSdkAdapter


def test_ts_sdk_without_node_is_unavailable_and_never_passes(monkeypatch: pytest.MonkeyPatch, server: MockServer,
                                                              tmp_path: Path) -> None:
    monkeypatch.setattr(ts_sdk, "find_node", lambda: (None, "/usr/bin/node is v20"))
    adapter = TsSdkAdapter()
    assert adapter.unavailable and "Node >= 22" in adapter.unavailable
    assert "scripts/install-node-deps" in adapter.unavailable
    out = run(adapter, server, tmp_path, BASIC)
    assert not out.ok and out.errors[0].startswith("driver:unavailable")
    assert kinds(server) == [], "an unavailable client sends nothing"


def test_ts_sdk_without_npm_deps_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ts_sdk, "find_node", lambda: ("/fake/node", ""))
    monkeypatch.setattr(ts_sdk, "installed_sdk_version", lambda: None)
    reason = TsSdkAdapter().unavailable
    assert reason and "not installed" in reason and "scripts/install-node-deps" in reason
    monkeypatch.setattr(ts_sdk, "installed_sdk_version", lambda: "1.0.0")
    reason = TsSdkAdapter().unavailable
    assert reason and "1.0.0" in reason and "1.32.2" in reason


def test_ts_sdk_pins_the_sdk() -> None:
    pkg = json.loads((ts_sdk.DRIVER_DIR / "package.json").read_text())
    lock = json.loads((ts_sdk.DRIVER_DIR / "package-lock.json").read_text())
    assert pkg["dependencies"]["@modelcontextprotocol/sdk"] == "1.32.2"
    assert lock["packages"]["node_modules/@modelcontextprotocol/sdk"]["version"] == "1.32.2"
    assert all("^" not in v and "~" not in v for v in pkg["dependencies"].values())


def test_install_node_deps_exits_0_without_npm(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "dirname", "uname", "sha1sum", "cut"):  # a PATH with no node and no npm
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if real:
            (bindir / tool).symlink_to(real)
    proc = subprocess.run([str(bindir / "bash"), str(ROOT / "scripts" / "install-node-deps")], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(bindir), "HOME": str(tmp_path)})
    assert proc.returncode == 0
    assert "npm is not installed" in proc.stderr and "ts-sdk adapter will be skipped" in proc.stderr
