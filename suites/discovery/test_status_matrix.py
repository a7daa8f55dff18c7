"""C23 (PRM-2, ASM-2): a status matrix over the well-known URLs: continue on 4xx, stop on 5xx.

Real deployments answer a missing well-known URL with 400, 401, 403 or 404 (gateways, auth proxies,
frameworks that require a bearer everywhere). Each of these means "not here": the client must try the
next URL of its revision's order. A 5xx means the server is in trouble: discovery stops (and the client
retries later) rather than falling back to a wrong document.

* ``discovery/prm_<status>``: the challenge carries no ``resource_metadata``; the path-aware PRM URL
  (``/.well-known/oauth-protected-resource/mcp``) answers the status and the root PRM URL serves the
  document. PRM-2 order: path-aware first, then the root.
* ``discovery/asm_<status>``: ``/.well-known/oauth-authorization-server`` answers the status and
  ``/.well-known/openid-configuration`` serves the metadata. ASM-2 order for an issuer without a path.

Stopping at the first 404 (typescript-sdk #804, python-sdk #1944) leaves a perfectly discoverable server
unusable. Not for 2025-03-26 (no PRM; see discovery/legacy).
"""

from harness import Scenario, checks
from harness import actions as a
from harness.model import Check
from suites.discovery._checks import AS_WK, OIDC_WK, PRM_WK, asked_in_order, continues_after, stops_after

PRM_PATH = PRM_WK + "/mcp"


def _prm(status: int) -> Scenario:
    cont = status < 500
    cs: list[Check] = [
        (continues_after if cont else stops_after)(
            PRM_PATH, PRM_WK, status, id=f"C23.prm-{'continues' if cont else 'stops'}-on-{status}",
            requirements=["C23", "RFC9728-3"]),
    ]
    if cont:
        cs += [asked_in_order([PRM_PATH, PRM_WK], id="PRM-2.path-then-root",
                              requirements=["MCP-2025-11-25:PRM-2"]),
               checks.outcome_ok("C23.connects", ["C23"])]
    return Scenario(
        id=f"discovery/prm_{status}",
        title=f"The path-aware PRM URL answers {status}; the root PRM URL serves the document",
        knobs={"challenge_resource_metadata": False,
               "well_known_status": {PRM_PATH: status, PRM_WK: 200}},
        actions=[a.connect(), a.call_tool("echo", {"text": "hi"})],
        checks=cs,
        since="2025-06-18",
    )


def _asm(status: int) -> Scenario:
    cont = status < 500
    cs: list[Check] = [
        (continues_after if cont else stops_after)(
            AS_WK, OIDC_WK, status, id=f"C23.asm-{'continues' if cont else 'stops'}-on-{status}",
            requirements=["C23", "RFC8414-3"]),
    ]
    if cont:
        cs += [asked_in_order([AS_WK, OIDC_WK], id="ASM-2.oauth-then-openid",
                              requirements=["MCP-2025-11-25:ASM-2"]),
               checks.outcome_ok("C23.connects", ["C23"])]
    return Scenario(
        id=f"discovery/asm_{status}",
        title=f"The RFC 8414 metadata URL answers {status}; the OpenID configuration serves the metadata",
        knobs={"well_known_status": {AS_WK: status}},
        actions=[a.connect(), a.call_tool("echo", {"text": "hi"})],
        checks=cs,
        since="2025-06-18",
    )


test_prm_400 = _prm(400).as_test()
test_prm_401 = _prm(401).as_test()
test_prm_403 = _prm(403).as_test()
test_prm_404 = _prm(404).as_test()
test_prm_500 = _prm(500).as_test()
test_prm_502 = _prm(502).as_test()
test_asm_400 = _asm(400).as_test()
test_asm_401 = _asm(401).as_test()
test_asm_403 = _asm(403).as_test()
test_asm_404 = _asm(404).as_test()
test_asm_500 = _asm(500).as_test()
test_asm_503 = _asm(503).as_test()
