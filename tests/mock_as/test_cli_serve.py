"""The ``mock-as`` CLI: generated knob flags, one-line errors with exit 2, and a real ``serve`` subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mock_as.cli import env_overrides, main, resolve_knobs
from mock_as.knobs import KnobError, Knobs
from tests.mock_as.server_helpers import HTTP

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_knob_with_its_description() -> None:
    code, out, _ = run("serve", "--help")
    assert code == 0
    for name in Knobs.model_fields:
        if name == "preset":
            continue
        assert "--" + name.replace("_", "-") in out, name
    assert "--rotate-refresh-tokens / --no-rotate-refresh-tokens" in out
    assert "issue a new refresh token on every refresh" in out
    assert "--config" in out and "--preset" in out and "--manual-clock" in out and "--journal-jsonl" in out
    code, out, _ = run("--help")
    assert code == 0 and "serve" in out and "presets" in out and "knobs" in out


@pytest.mark.parametrize("args, needle", [
    (["serve", "--layout", "sideways"], "'sideways' is not one of 'default', 'as_separate_origin'"),
    (["serve", "--reuse-policy", "maybe"], "'reject', 'revoke_family'"),
    (["serve", "--access-token-ttl", "soon"], "access_token_ttl: 'soon' is not a duration"),
    (["serve", "--acess-token-ttl", "2s"], "Did you mean --access-token-ttl?"),
    (["serve", "--preset", "azure"], "'auth0'"),
    (["serve", "--well-known-status", "nonsense"], "KEY=VALUE"),
    (["serve", "--well-known-status", "/x=abc"], "well_known_status"),
    (["serve", "--issuer-path", "tenant1"], "issuer_path: a path starts with /"),
    (["serve", "--config", "/does/not/exist.toml"], "does not exist"),
    (["bogus"], "No such command"),
])
def test_bad_values_exit_2_with_one_line(args: list[str], needle: str) -> None:
    code, out, err = run(*args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mock-as: error: "), err
    assert needle in lines[0], lines[0]


def test_bad_env_value_exits_2() -> None:
    code, _, err = run("serve", env={"MOCK_AS_LAYOUT": "sideways"})
    assert code == 2 and "layout: expected" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("serve", env={"MOCK_AS_ROTATE_REFRESH_TOKENS": "perhaps"})
    assert code == 2 and "not a boolean" in err


def test_presets_and_knobs_commands() -> None:
    code, out, _ = run("presets")
    assert code == 0 and out.splitlines()[0].startswith("auth0") and "okta" in out and "google" in out
    code, out, _ = run("knobs")
    assert code == 0 and "access_token_ttl" in out and "default=3600.0" in out and "--access-token-ttl" in out
    code, out, _ = run("knobs", "--json")
    assert code == 0 and json.loads(out) == Knobs().model_dump(mode="json")


def test_precedence_defaults_preset_config_env_flags(tmp_path: Path) -> None:
    config = tmp_path / "knobs.toml"
    config.write_text('[knobs]\ngrace_s = "5s"\naccess_token_ttl = 60\nlayout = "issuer_path"\n'
                      'scopes_supported = ["a", "b"]\n')
    env = {"MOCK_AS_ACCESS_TOKEN_TTL": "2m", "MOCK_AS_REFRESH_TOKEN_TTL": "1h",
           "MOCK_AS_SCOPES_SUPPORTED": "x,y", "MOCK_AS_WELL_KNOWN_STATUS": '{"/a": 404}'}
    knobs = resolve_knobs("okta", str(config), env, {"refresh_token_ttl": "30s"})
    assert knobs.preset == "okta" and knobs.rotate_refresh_tokens and knobs.reuse_policy == "revoke_family"
    assert knobs.grace_s == 5.0  # config over preset (okta says 30)
    assert knobs.layout == "issuer_path"
    assert knobs.access_token_ttl == 120.0  # env over config
    assert knobs.refresh_token_ttl == 30.0  # flag over env
    assert knobs.scopes_supported == ["x", "y"] and knobs.well_known_status == {"/a": 404}
    assert resolve_knobs(None, None, {"MOCK_AS_PRESET": "google"}, {}).refresh_omits_refresh_token
    with pytest.raises(KnobError):
        resolve_knobs(None, None, {"MOCK_AS_GRACE_S": "later"}, {})


def test_list_and_dict_flags() -> None:
    from mock_as.cli import flag_overrides

    flags = flag_overrides({"scopes_supported": ("mcp:read", '["x", "y"]'),
                            "well_known_status": ("/.well-known/oauth-authorization-server=404", '{"/b": 502}'),
                            "pre_registered": ('{"client_id": "pre-1"}',), "rotate_refresh_tokens": None,
                            "required_scope": ""})
    knobs = Knobs().patched(flags)
    assert knobs.scopes_supported == ["mcp:read", "x", "y"]
    assert knobs.well_known_status == {"/.well-known/oauth-authorization-server": 404, "/b": 502}
    assert knobs.pre_registered[0].client_id == "pre-1" and knobs.required_scope is None
    assert "rotate_refresh_tokens" not in flags
    assert env_overrides({"MOCK_AS_DCR": "false"}) == {"dcr": False}


def _serve(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "mock_as", "serve", "--port", "0", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("press Ctrl-C"):
            return proc, lines
    proc.kill()
    raise AssertionError(f"serve did not print its URLs: {lines} {proc.stderr.read() if proc.stderr else ''}")


def _url(lines: list[str], label: str) -> str:
    return next(line.split(label, 1)[1].split()[0] for line in lines if label in line)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_urls_logs_requests_and_stops_cleanly(sig: signal.Signals, tmp_path: Path) -> None:
    jsonl = tmp_path / "journal.jsonl"
    proc, lines = _serve("--access-token-ttl", "2s", "--rotate-refresh-tokens", "--manual-clock",
                         "--journal-jsonl", str(jsonl), env={"MOCK_AS_REUSE_POLICY": "revoke_family"})
    try:
        issuer = _url(lines, "issuer:")
        assert issuer.startswith("http://127.0.0.1:")
        assert _url(lines, "MCP resource:") == issuer + "/mcp"
        assert _url(lines, "PRM:") == issuer + "/.well-known/oauth-protected-resource/mcp"
        assert _url(lines, "AS metadata:") == issuer + "/.well-known/oauth-authorization-server"
        assert _url(lines, "admin:") == issuer + "/_admin/"
        knobs = HTTP.get(issuer + "/_admin/knobs").json()
        assert knobs["access_token_ttl"] == 2.0 and knobs["rotate_refresh_tokens"]
        assert knobs["reuse_policy"] == "revoke_family"
        assert HTTP.post(issuer + "/_admin/clock", json={"advance": "1s"}).status_code == 200
        r = HTTP.get(issuer + "/.well-known/oauth-authorization-server", headers={"x-harness-actor": "me"})
        assert r.status_code == 200
        assert proc.stdout is not None
        log = proc.stdout.readline()  # the admin GET
        log += proc.stdout.readline() + proc.stdout.readline()
        assert "GET /.well-known/oauth-authorization-server 200" in log and "as_metadata actor=me" in log
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "mock-as: stopped" in out
    assert "Traceback" not in err
    kinds = [json.loads(line)["kind"] for line in jsonl.read_text().splitlines()]
    assert kinds[:1] == ["clock_advanced"] and "request" in kinds and "response" in kinds


def test_serve_separate_origin_prints_both() -> None:
    proc, lines = _serve("--layout", "as_separate_origin", "--quiet")
    try:
        issuer, resource = _url(lines, "issuer:"), _url(lines, "MCP resource:")
        assert not resource.startswith(issuer)
        assert HTTP.get(_url(lines, "AS metadata:")).json()["issuer"] == issuer
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_serve_on_a_busy_port_fails_with_one_line() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "mock_as", "serve", "--port", str(port)], cwd=ROOT,
                              capture_output=True, text=True, timeout=30,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "cannot listen" in proc.stderr
