"""Fuzz every mock endpoint, admin API included, from GET /_admin/openapi.json (the fast form; the full
form is ``python bench/fuzz.py``): zero 5xx, and every error RFC-shaped (JSON with a string ``error``)."""

from __future__ import annotations

import pytest

from mock_as.knobs import Knobs
from mock_as.server import MockServer
from tests.robustness.fuzz_support import fuzz


@pytest.fixture(scope="module")
def server():
    with MockServer(knobs=Knobs(rotate_refresh_tokens=True)) as srv:
        yield srv


def test_every_operation_is_described(server: MockServer) -> None:
    from tests.robustness.fuzz_support import load_schema

    labels = {f"{r.ok().method.upper()} {r.ok().path}" for r in load_schema(server).get_all_operations()}
    for must in ("PATCH /_admin/knobs", "POST /_admin/faults", "POST /_admin/gates", "GET /_admin/journal",
                 "POST /token", "GET /authorize", "POST /register", "POST /revoke", "POST /introspect",
                 "POST /mcp", "GET /.well-known/oauth-authorization-server"):
        assert must in labels, f"{must} missing from /_admin/openapi.json: {sorted(labels)}"


def test_fuzz_no_5xx_and_rfc_shaped_errors(server: MockServer) -> None:
    report = fuzz(server, max_examples=3, derandomize=True)
    assert report.cases >= 2 * len(report.operations), report.summary()
    assert not report.findings, report.summary() + "\n" + "\n".join(
        f"{f.operation} [{f.mode}] {f.status}: {f.problem}\n    {f.request}\n    {f.body}" for f in report.findings[:20])
