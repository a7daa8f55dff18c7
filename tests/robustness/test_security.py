"""Security self-check of the harness itself.

* the mock binds to loopback by default (MockServer and ``mock-as serve``);
* the admin API is protected by a bearer token when bound elsewhere (127.0.0.2 is "elsewhere" to the CLI,
  yet still loopback, so the test never listens on a real interface);
* no secret reaches the request log or the journal JSONL of ``python -m mock_as serve`` after a full flow
  (register with a client secret, authorize, code exchange, refresh, MCP call, revocation): only
  8-character prefixes;
* no secret reaches a report rendered from a real run's results.json, and the report escapes everything it
  renders from client input (a client name, a tool argument, a message containing ``<script>``).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_as import cli
from mock_as.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
REDIRECT = "http://127.0.0.1:9/cb"
PREFIX = 8
JWT = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{20,}")
OPAQUE_RT = re.compile(r"(?<![\w-])rt_[\w-]{6,}")  # "rt_" + 5 characters is the journal's 8-character prefix


# -- loopback by default --------------------------------------------------------------------------------

def test_mock_server_binds_loopback_by_default() -> None:
    assert inspect.signature(MockServer.__init__).parameters["host"].default == "127.0.0.1"
    with MockServer() as srv:
        assert srv._sockets[0].getsockname()[0] == "127.0.0.1"
        assert urlsplit(srv.urls.origin).hostname == "127.0.0.1"


def test_cli_binds_loopback_by_default() -> None:
    host = next(p for p in cli.serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


class Serve:
    """``python -m mock_as serve`` in its own process group; stdout (the request log) captured to a file."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.out = tmp / "serve.out"
        self.err = tmp / "serve.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "mock_as", "serve", "--port", "0", *args],
                                         stdout=out, stderr=err, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + 60
        while "press Ctrl-C" not in self.stdout():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"mock-as serve did not start: {self.stdout()}{self.err.read_text()}")
            time.sleep(0.05)
        self.origin = re.search(r"issuer:\s+(\S+)", self.stdout()).group(1)  # type: ignore[union-attr]

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def test_admin_api_needs_a_token_off_the_default_loopback_address(tmp_path: Path) -> None:
    srv = Serve(tmp_path, "--host", "127.0.0.2", "--quiet")
    try:
        token = re.search(r"admin token:\s+(\S+)", srv.stdout())
        assert token, "serve on a non-default address must print the admin token it generated:\n" + srv.stdout()
        with httpx.Client(timeout=10) as http:
            r = http.get(srv.origin + "/_admin/knobs")
            assert r.status_code == 401 and r.json()["error"] == "invalid_token"
            r = http.get(srv.origin + "/_admin/knobs", headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401
            r = http.get(srv.origin + "/_admin/knobs", headers={"Authorization": f"Bearer {token.group(1)}"})
            assert r.status_code == 200, r.text
            assert http.get(srv.origin + "/.well-known/oauth-authorization-server").status_code == 200
    finally:
        srv.stop()


def test_mock_server_admin_token() -> None:
    with MockServer(host="127.0.0.2", admin_token="s3cret-admin-token") as srv, httpx.Client(timeout=10) as http:
        assert http.post(srv.admin_url + "/reset").status_code == 401
        assert http.post(srv.admin_url + "/reset", headers={"Authorization": "Bearer s3cret-admin-token"}
                         ).status_code == 200


# -- no secrets in logs ---------------------------------------------------------------------------------

def full_flow(origin: str) -> dict[str, str]:
    """Every secret a full flow handles, by name (the client secret, code, verifier, tokens)."""
    out: dict[str, str] = {}
    with httpx.Client(timeout=15, follow_redirects=False) as http:
        meta = http.get(origin + "/.well-known/oauth-authorization-server").json()
        reg = http.post(meta["registration_endpoint"], json={
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "client_name": "security-check"}).json()
        client_id, out["client_secret"] = reg["client_id"], reg["client_secret"]
        out["code_verifier"] = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(out["code_verifier"].encode()).digest()).rstrip(b"=")
        r = http.get(meta["authorization_endpoint"], params={
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "sec-1",
            "code_challenge": challenge.decode(), "code_challenge_method": "S256"})
        out["code"] = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        auth = {"client_id": client_id, "client_secret": out["client_secret"]}
        tok = http.post(meta["token_endpoint"], data={
            "grant_type": "authorization_code", "code": out["code"], "redirect_uri": REDIRECT,
            "code_verifier": out["code_verifier"], **auth}).json()
        out["access_token"], out["refresh_token"] = tok["access_token"], tok["refresh_token"]
        tok2 = http.post(meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                       "refresh_token": out["refresh_token"], **auth}).json()
        out["access_token_2"] = tok2["access_token"]
        out["refresh_token_2"] = tok2.get("refresh_token", out["refresh_token"])
        hdrs = {"authorization": f"Bearer {out['access_token_2']}", "content-type": "application/json",
                "accept": "application/json, text/event-stream"}
        r = http.post(origin + "/mcp", headers=hdrs, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "sec", "version": "0"}}})
        assert r.status_code == 200, r.text
        http.post(meta["introspection_endpoint"], data={"token": out["access_token_2"], **auth})
        http.post(meta["revocation_endpoint"], data={"token": out["refresh_token_2"],
                                                     "token_type_hint": "refresh_token", **auth})
    return out


def leaks(text: str, secrets_: dict[str, str]) -> list[str]:
    """Secrets that appear longer than the allowed prefix. JWTs: their payload or signature must not appear."""
    found = []
    for name, value in secrets_.items():
        if value.count(".") == 2:  # a JWT: header and claims prefixes are shared by all tokens; not the signature
            if value in text or value.split(".")[2][:PREFIX + 1] in text:
                found.append(name)
        elif value[:PREFIX + 1] in text:
            found.append(name)
    return found


def test_no_secret_in_request_log_or_journal_jsonl(tmp_path: Path) -> None:
    jsonl = tmp_path / "journal.jsonl"
    srv = Serve(tmp_path, "--journal-jsonl", str(jsonl), "--rotate-refresh-tokens")
    try:
        used = full_flow(srv.origin)
        time.sleep(0.2)  # the last response's log line is written after the client has the response
    finally:
        srv.stop()
    log = srv.stdout() + srv.err.read_text(encoding="utf-8", errors="replace")
    journal = jsonl.read_text(encoding="utf-8")
    assert "POST /token 200" in log, log  # the request log is on, and it logged the flow
    assert '"kind": "code_redeemed"' in journal and '"kind": "token_revoked"' in journal
    assert not leaks(log, used), f"secrets in the request log: {leaks(log, used)}"
    assert not leaks(journal, used), f"secrets in the journal JSONL: {leaks(journal, used)}"
    assert not JWT.search(journal) and not OPAQUE_RT.search(journal)


# -- the report -----------------------------------------------------------------------------------------

def real_run(tmp: Path) -> dict[str, Any]:
    """results.json of a real (small) run of the suites against the reference client."""
    candidates = ["suites/pkce/test_pkce.py", "suites/refresh/test_rotation.py", "suites/flows"]
    target = next((c for c in candidates if (ROOT / c).exists()), None)
    if target is None:
        pytest.skip("no scenario module to run yet (suites/ incomplete)")
    out = tmp / "results.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", target, "-q", "-p", "no:cacheprovider",
                           "--client", "reference", "--results", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.exists(), f"no results.json from {target}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


XSS = ['<script>alert("xss")</script>', '"><img src=x onerror=alert(1)>', "</textarea><svg onload=alert(2)>"]


def test_report_has_no_secrets_and_escapes_client_input(tmp_path: Path) -> None:
    from reports.render import render

    results = real_run(tmp_path)
    assert results["checks"], "the real run produced no checks"
    raw = json.dumps(results)
    assert not JWT.search(raw) and not OPAQUE_RT.search(raw), "a full token in results.json"

    # client input everywhere it can come from: client name, scenario title, messages, journal data
    evil = json.loads(raw)
    evil["run"]["clients"] = [*evil["run"].get("clients", []), XSS[0]]
    for i, row in enumerate(evil["checks"]):
        row["client"] = XSS[0] if i % 2 == 0 else row["client"]
        row["message"] = f"{XSS[1]} tool said {XSS[2]}"
        row["title"] = XSS[0]
        row["status"] = "FAIL" if i == 0 else row["status"]
        for e in row.get("journal", []) or []:
            if isinstance(e, dict):
                e.setdefault("data", {})["params"] = {"text": XSS[0], "name": XSS[1]}
                e["actor"] = XSS[2]
    evil["counterexamples"] = [{"machine": XSS[0], "invariant": XSS[1], "steps": [XSS[2]], "message": XSS[0]}]
    html = render(evil)
    for payload in XSS:
        assert payload not in html, f"unescaped client input in the report: {payload}"
    assert len(re.findall(r"<script\b", html)) == 1, "only the report's own inline script may be a <script>"
    assert not re.search(r"<img[^>]*onerror|<svg onload", html), "an injected tag survived"
    assert not JWT.search(html) and not OPAQUE_RT.search(html), "a full token in the report"
