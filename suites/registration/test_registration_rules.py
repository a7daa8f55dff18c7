"""REG-1, REG-2, REG-3, RT-1, RED-1: how the client registers.

* ``registration/dcr``: no pre-registered client, no CIMD: the client registers dynamically (RFC 7591)
  with loopback or https redirect URIs, and uses the client it registered (REG-1, RED-1).
* ``registration/priority_preregistered``: a pre-registered client is configured and the AS also offers
  CIMD and DCR: the pre-registered one wins (REG-2): no ``/register``.
* ``registration/application_type``: the AS rejects DCR without ``application_type``; every registration
  carries it (REG-3), and ``refresh_token`` in ``grant_types`` (RT-1).
* ``registration/no_refresh_token``: the AS issues no refresh token; the client must not assume one: it
  never sends ``grant_type=refresh_token`` and re-authorizes when the access token dies (RT-1).
"""

from typing import Any
from urllib.parse import urlsplit

from harness import Scenario, checks
from harness import actions as a
from suites.registration._checks import client_of, preregistered_kept, redirect_registered, register_body

CALL = [a.connect(), a.call_tool("echo", {"text": "hi"})]
PRE_ID = "operator-configured-client"


def _redirects_ok(params: dict[str, Any]) -> str | None:
    uris = params.get("redirect_uris") or []
    if not uris:
        return "no redirect_uris"
    for uri in uris:
        parts = urlsplit(uri)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not (loopback or parts.scheme == "https"):
            return f"redirect URI {uri} is neither a loopback URI nor https"
    return None


def _application_type(params: dict[str, Any]) -> str | None:
    return None if params.get("application_type") in ("native", "web") else \
        f"application_type is {params.get('application_type')!r}"


def _refresh_grant(params: dict[str, Any]) -> str | None:
    return None if "refresh_token" in (params.get("grant_types") or []) else \
        f"grant_types {params.get('grant_types')} lacks refresh_token"


def _uses_registered(e: Any) -> str | None:
    return None if client_of(e) else "no client_id"


test_dcr = Scenario(
    id="registration/dcr",
    title="Dynamic client registration, with loopback redirect URIs",
    actions=CALL,
    checks=[
        register_body("redirect URIs are loopback or https", _redirects_ok, id="RED-1.redirect-uris",
                      requirements=["MCP-2025-06-18:RED-1", "RFC8252-7.3"]),
        redirect_registered(id="RED-1.redirect-uri-registered", requirements=["MCP-2025-06-18:RED-1"]),
        register_body("the client registers dynamically", lambda p: None, id="REG-1.dcr-supported",
                      requirements=["MCP-2025-06-18:REG-1", "RFC7591-3"], severity="should"),
        checks.outcome_ok("REG-1.connects", ["MCP-2025-06-18:REG-1"]),
    ],
    needs={"dcr"},
).as_test()

test_priority_preregistered = Scenario(
    id="registration/priority_preregistered",
    title="A pre-registered client comes before CIMD and DCR",
    knobs={"pre_registered": [{"client_id": PRE_ID}], "dcr": True, "cimd": True},
    context={"client_id": PRE_ID},
    actions=CALL,
    checks=[
        preregistered_kept(PRE_ID, id="REG-2.preregistered-first", requirements=["MCP-2025-11-25:REG-2"]),
        checks.outcome_ok("REG-2.connects", ["MCP-2025-11-25:REG-2"]),
    ],
    needs={"preregistered"},
).as_test()

test_application_type = Scenario(
    id="registration/application_type",
    title="Every registration carries application_type and asks for refresh_token",
    knobs={"require_application_type": True},
    actions=CALL,
    checks=[
        register_body("application_type present", _application_type, id="REG-3.application-type",
                      requirements=["MCP-2026-07-28:REG-3"]),
        register_body("refresh_token in grant_types", _refresh_grant, id="RT-1.refresh-grant-type",
                      requirements=["MCP-2026-07-28:RT-1"]),
        checks.outcome_ok("REG-3.connects", ["MCP-2026-07-28:REG-3"]),
    ],
    needs={"dcr"},
).as_test()

test_no_refresh_token = Scenario(
    id="registration/no_refresh_token",
    title="The AS issues no refresh token: the client re-authorizes instead of assuming one",
    knobs={"issue_refresh_tokens": False},
    actions=[a.connect(), a.call_tool("echo", {"text": "before"}), a.revoke_tokens(),
             a.call_tool("echo", {"text": "after"})],
    checks=[
        checks.no_request("token", id="RT-1.no-refresh-without-rt", requirements=["MCP-2026-07-28:RT-1"],
                          grant_type="refresh_token", why="the AS never issued a refresh token"),
        checks.every_request("authorize", _uses_registered, id="RT-1.reauthorizes", what="/authorize request",
                             requirements=["MCP-2026-07-28:RT-1"]),
        checks.outcome_ok("RT-1.call-succeeds-without-rt", ["MCP-2026-07-28:RT-1"]),
    ],
).as_test()
