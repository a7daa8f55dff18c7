"""PRM-1/2/3, ASM-1/2/3, LEG-1: discovery across the mock's layouts, per spec revision.

* ``discovery/prm_header``: the 401 challenge names ``resource_metadata``: it is the first PRM URL fetched (PRM-1).
* ``discovery/prm_header_only``: the PRM lives only at a non-well-known URL named in the challenge (PRM-1).
* ``discovery/bare_bearer``: a bare ``Bearer`` challenge: fall back to the well-known URLs (C23, PRM-2).
* ``discovery/prm_root``: the PRM is only at the root well-known URL: path-aware first, then the root (PRM-2).
* ``discovery/default_asm``: AS metadata by RFC 8414 (ASM-1).
* ``discovery/issuer_path``: an issuer with a path (``/tenant1``), the first two URLs of ASM-2 answer 404:
  the client must try ``/.well-known/oauth-authorization-server/tenant1``,
  ``/.well-known/openid-configuration/tenant1`` then ``/tenant1/.well-known/openid-configuration``.
* ``discovery/oidc_only``: only the OpenID configuration exists (ASM-2 fallback).
* ``discovery/prm_resource_mismatch``: the PRM describes another resource: no ``/authorize`` (PRM-3).
* ``discovery/issuer_mismatch``: the metadata's ``issuer`` is not the issuer the URL was built from: the
  metadata is not used and no ``/authorize`` follows (ASM-3).
* ``discovery/legacy``: the 2025-03-26 layout (no PRM; AS metadata at the MCP server's origin), and its
  fallback to ``/authorize``, ``/token``, ``/register`` when that metadata is missing (LEG-1).
"""

from harness import Scenario, checks
from harness import actions as a
from suites.discovery._checks import AS_WK, OIDC_WK, PRM_WK, asked_in_order, first_asked

CALL = [a.connect(), a.call_tool("echo", {"text": "hi"})]
NO_AUTHORIZE = "the client must not start an authorization flow on metadata it cannot trust"

test_prm_header = Scenario(
    id="discovery/prm_header",
    title="The challenge's resource_metadata URL is fetched first",
    actions=CALL,
    checks=[first_asked("prm", PRM_WK + "/mcp", id="PRM-1.header-url-first",
                        requirements=["MCP-2025-06-18:PRM-1", "RFC9728-5.1"]),
            checks.outcome_ok("PRM-1.connects", ["MCP-2025-06-18:PRM-1"])],
).as_test()

test_prm_header_only = Scenario(
    id="discovery/prm_header_only",
    title="The PRM exists only at the URL the WWW-Authenticate challenge names",
    knobs={"layout": "prm_header_only"},
    actions=CALL,
    checks=[first_asked("prm", "/resource-metadata/mcp", id="PRM-1.header-url-used",
                        requirements=["MCP-2025-06-18:PRM-1", "RFC9728-5.1"]),
            checks.outcome_ok("PRM-1.connects", ["MCP-2025-06-18:PRM-1"])],
).as_test()

test_bare_bearer = Scenario(
    id="discovery/bare_bearer",
    title="A bare Bearer challenge falls back to the well-known PRM URLs",
    knobs={"challenge_resource_metadata": False, "challenge_scope": False},
    actions=CALL,
    checks=[first_asked("prm", PRM_WK + "/mcp", id="C23.bare-bearer-falls-back", requirements=["C23"]),
            asked_in_order([PRM_WK + "/mcp"], id="PRM-2.path-aware-first", requirements=["MCP-2025-11-25:PRM-2"]),
            checks.outcome_ok("C23.connects", ["C23"])],
    since="2025-06-18",
).as_test()

test_prm_root = Scenario(
    id="discovery/prm_root",
    title="The PRM is only at the root well-known URL",
    knobs={"layout": "prm_root", "challenge_resource_metadata": False},
    actions=CALL,
    checks=[asked_in_order([PRM_WK + "/mcp", PRM_WK], id="PRM-2.path-then-root",
                           requirements=["MCP-2025-11-25:PRM-2"]),
            checks.outcome_ok("PRM-2.connects", ["MCP-2025-11-25:PRM-2"])],
).as_test()

test_default_asm = Scenario(
    id="discovery/default_asm",
    title="AS metadata comes from the RFC 8414 well-known URL",
    actions=CALL,
    checks=[first_asked("as_metadata", AS_WK, id="ASM-1.rfc8414-metadata",
                        requirements=["MCP-2025-06-18:ASM-1", "RFC8414-3"]),
            checks.outcome_ok("ASM-1.connects", ["MCP-2025-06-18:ASM-1"])],
).as_test()

test_issuer_path = Scenario(
    id="discovery/issuer_path",
    title="An issuer with a path: the three ASM-2 URLs, in order",
    knobs={"layout": "issuer_path", "well_known_status": {AS_WK + "/tenant1": 404, OIDC_WK + "/tenant1": 404}},
    actions=CALL,
    checks=[asked_in_order([AS_WK + "/tenant1", OIDC_WK + "/tenant1", "/tenant1" + OIDC_WK],
                           id="ASM-2.issuer-path-order", requirements=["MCP-2025-11-25:ASM-2"]),
            checks.outcome_ok("ASM-2.connects", ["MCP-2025-11-25:ASM-2"])],
).as_test()

test_issuer_path_rfc8414 = Scenario(
    id="discovery/issuer_path_rfc8414",
    title="An issuer with a path: RFC 8414 path insertion",
    knobs={"layout": "issuer_path"},
    actions=CALL,
    checks=[first_asked("as_metadata", AS_WK + "/tenant1", id="ASM-1.path-insertion",
                        requirements=["MCP-2025-06-18:ASM-1", "RFC8414-3.1"]),
            checks.outcome_ok("ASM-1.connects", ["MCP-2025-06-18:ASM-1"])],
).as_test()

test_oidc_only = Scenario(
    id="discovery/oidc_only",
    title="Only the OpenID configuration exists",
    knobs={"layout": "oidc_only"},
    actions=CALL,
    checks=[asked_in_order([AS_WK, OIDC_WK], id="ASM-2.oauth-then-openid", requirements=["MCP-2025-11-25:ASM-2"]),
            checks.outcome_ok("ASM-2.connects", ["MCP-2025-11-25:ASM-2"])],
).as_test()

test_prm_resource_mismatch = Scenario(
    id="discovery/prm_resource_mismatch",
    title="The PRM describes another resource: no authorization request",
    knobs={"prm_resource": "https://other.example.com/mcp"},
    actions=CALL,
    checks=[checks.no_request("authorize", id="PRM-3.no-authorize-on-mismatch",
                              requirements=["MCP-2026-07-28:PRM-3", "RFC9728-3.3"], why=NO_AUTHORIZE)],
).as_test()

test_issuer_mismatch = Scenario(
    id="discovery/issuer_mismatch",
    title="The metadata names another issuer than the one the URL was built from",
    # the PRM names <origin>/tenant1; the metadata served there says issuer=<origin>
    knobs={"authorization_servers": ["/tenant1"], "well_known_status": {AS_WK + "/tenant1": 200}},
    actions=CALL,
    checks=[checks.no_request("authorize", id="ASM-3.no-authorize-on-issuer-mismatch",
                              requirements=["MCP-2026-07-28:ASM-3", "RFC8414-3.3"], why=NO_AUTHORIZE)],
    since="2025-06-18",
).as_test()

test_legacy = Scenario(
    id="discovery/legacy",
    title="2025-03-26: AS metadata at the MCP server's origin",
    knobs={"layout": "legacy_2025_03_26"},
    actions=CALL,
    checks=[first_asked("as_metadata", AS_WK, id="LEG-1.metadata-at-origin", requirements=["MCP-2025-03-26:LEG-1"]),
            checks.outcome_ok("LEG-1.connects", ["MCP-2025-03-26:LEG-1"])],
    revisions=("2025-03-26",),
).as_test()

test_legacy_default_endpoints = Scenario(
    id="discovery/legacy_default_endpoints",
    title="2025-03-26 without metadata: the default /authorize, /token and /register",
    knobs={"layout": "legacy_2025_03_26", "well_known_status": {AS_WK: 404}},
    actions=CALL,
    checks=[checks.every_request("authorize", lambda e: None if (e.data or {}).get("path") == "/authorize"
                                 else "not the default /authorize", id="LEG-1.default-authorize",
                                 requirements=["MCP-2025-03-26:LEG-1"], what="/authorize request"),
            checks.every_request("register", lambda e: None if (e.data or {}).get("path") == "/register"
                                 else "not the default /register", id="LEG-1.default-register",
                                 requirements=["MCP-2025-03-26:LEG-1"], what="registration request"),
            checks.outcome_ok("LEG-1.connects", ["MCP-2025-03-26:LEG-1"])],
    revisions=("2025-03-26",),
).as_test()
