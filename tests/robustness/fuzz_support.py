"""Fuzz every endpoint of a running mock from its own OpenAPI description (schemathesis + hypothesis).

Shared by ``tests/robustness/test_fuzz.py`` (a small budget, in CI) and ``bench/fuzz.py`` (the full form).
The verdict per response: never a 5xx, and every 4xx is an RFC 6749-shaped JSON error (an object with a
string ``error``; on the MCP endpoint a JSON-RPC error object is accepted too). The mock is reset before
every case, so a fault or gate that one fuzzed admin call arms never leaks into the next case.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from mock_as.server import MockServer

MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class Finding:
    operation: str
    mode: str
    status: int
    problem: str
    request: str
    body: str


@dataclass
class FuzzReport:
    cases: int = 0
    client_errors: int = 0  # requests the HTTP client itself refused to send (e.g. a negative header)
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        bad5 = sum(1 for f in self.findings if f.status >= 500)
        shapes = len(self.findings) - bad5
        return (f"{len(self.operations)} operations, {self.cases} cases in {self.seconds:.1f} s: "
                f"{bad5} 5xx, {shapes} non-RFC-shaped errors; statuses "
                + ", ".join(f"{s}x{n}" for s, n in sorted(self.statuses.items())))


def problem_with(status: int, ctype: str, body: bytes, mcp: bool) -> str | None:
    """Why this response breaks the rules, or None."""
    if status >= 500:
        return f"server error {status}"
    if status < 400:
        return None
    if "json" not in ctype:
        return f"a {status} error that is not JSON ({ctype or 'no content-type'})"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"a {status} error whose JSON does not parse"
    if not isinstance(doc, dict):
        return f"a {status} error that is not a JSON object"
    err = doc.get("error")
    if isinstance(err, str) and err:
        return None
    if mcp and isinstance(err, dict) and "code" in err:  # JSON-RPC error from the MCP SDK
        return None
    return f"a {status} error without a string 'error' member"


def load_schema(srv: MockServer) -> Any:
    doc = httpx.get(srv.admin_url + "/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(doc)


def _runner(srv: MockServer, session: requests.Session, origin: str, report: FuzzReport, strategy: Any,
            op_label: str, mode_name: str, is_mcp: bool, max_examples: int, derandomize: bool) -> Any:
    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate], print_blob=False)
    @given(case=strategy)
    def run(case: Any) -> None:
        srv.reset()
        try:
            resp = case.call(base_url=origin, session=session, timeout=10, allow_redirects=False)
        except (requests.RequestException, ValueError, UnicodeError):
            report.client_errors += 1
            return
        report.cases += 1
        report.per_operation[op_label] += 1
        status = resp.status_code
        report.statuses[status] += 1
        ctype = resp.headers.get("content-type") or ""
        ctype = ", ".join(ctype) if isinstance(ctype, list) else str(ctype)  # schemathesis keeps every value
        why = problem_with(status, ctype, resp.content, is_mcp)
        if why:
            req = resp.request
            report.findings.append(Finding(op_label, mode_name, status, why, f"{req.method} {req.url}",
                                           (resp.text or "")[:300]))

    return run


def fuzz(srv: MockServer, max_examples: int = 10, modes: tuple[GenerationMode, ...] = MODES,
         derandomize: bool = True, only: str | None = None) -> FuzzReport:
    """Run ``max_examples`` cases per operation and mode against ``srv``; collect every finding."""
    report = FuzzReport()
    schema = load_schema(srv)
    origin = srv.urls.origin
    session = requests.Session()
    t0 = time.perf_counter()
    for result in schema.get_all_operations():
        op = result.ok()
        label = f"{op.method.upper()} {op.path}"
        if only and only not in label:
            continue
        report.operations.append(label)
        mcp = op.path == "/mcp"
        # With layout as_separate_origin the OAuth endpoints live on the AS's own origin (the doc's 2nd server).
        on_mcp_origin = op.path.startswith(("/_admin", "/mcp", "/.well-known/oauth-protected-resource"))
        base = origin if on_mcp_origin else srv.urls.as_origin
        has_input = bool(op.body or op.query or op.path_parameters or op.headers)
        for mode in modes:
            if mode is GenerationMode.NEGATIVE and not has_input:
                continue  # nothing to negate: no parameters, no body
            try:
                strategy = op.as_strategy(generation_mode=mode)
            except Exception:  # noqa: BLE001 - an operation with no negative space, say
                continue

            try:
                _runner(srv, session, base, report, strategy, label, mode.value, mcp, max_examples, derandomize)()
            except Unsatisfiable:  # nothing to negate: no parameters, no body
                continue
    session.close()
    srv.reset()
    report.seconds = time.perf_counter() - t0
    return report
