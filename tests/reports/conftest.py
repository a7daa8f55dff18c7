"""Shared fixtures: a deterministic sample and a malicious results dict."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reports.sample import make_sample

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def sample() -> dict[str, Any]:
    return make_sample(n_clients=12, n_checks=90, seed=7)


@pytest.fixture()
def evil_results() -> dict[str, Any]:
    entries = [
        {"seq": 1, "ts": 1.0, "kind": "request", "endpoint": "token", "actor": EVIL, "exchange": 1,
         "data": {"method": "POST", "path": "/token", "params": {
             "grant_type": "refresh_token", "refresh_token": "rtSECRETVALUE0123456789abcdef"}}},
        {"seq": 2, "ts": 1.1, "kind": "reuse_detected", "endpoint": "token", "family": EVIL,
         "data": {"reason": EVIL, "client_secret": "csSECRETVALUE0123456789"}},
        {"seq": 3, "ts": 1.2, "kind": "response", "endpoint": "token", "exchange": 1,
         "data": {"status": 400, "body": {"error": EVIL, "access_token": "atSECRETVALUE0123456789"}}},
    ]
    check = {"client": f"cmd:{EVIL}", "scenario": f"refresh/{EVIL}", "check": f"C08.{EVIL}",
             "requirements": ["C08", EVIL], "status": "FAIL", "revision": "2025-11-25", "message": EVIL,
             "severity": "critical", "evidence": entries, "highlight": [2, 3], "journal": copy.deepcopy(entries)}
    return {"run": {"clients": [f"cmd:{EVIL}"], "command": EVIL, "versions": {EVIL: EVIL}},
            "checks": [check],
            "counterexamples": [{"client": EVIL, "machine": EVIL, "steps": [f"1. {EVIL}"], "invariant": EVIL,
                                 "message": EVIL}]}
