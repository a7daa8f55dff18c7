"""PKCE-1, PKCE-2: the authorization code flow always uses PKCE with S256.

* ``pkce/s256``: every ``/authorize`` carries ``code_challenge`` with ``code_challenge_method=S256``, every
  code exchange carries ``code_verifier``, and the mock verified it (``code_redeemed``) (PKCE-1).
* ``pkce/no_methods_advertised``: the AS metadata lacks ``code_challenge_methods_supported``; from
  2025-11-25 the client must refuse to proceed: no ``/authorize`` at all (PKCE-2).
"""

from typing import Any

from harness import Scenario, checks
from harness import actions as a
from harness.journal_query import field

CALL = [a.connect(), a.call_tool("echo", {"text": "hi"})]


def _challenge(e: Any) -> str | None:
    if field(e, "code_challenge_method") != "S256":
        return f"code_challenge_method is {field(e, 'code_challenge_method')!r}, not S256"
    if not field(e, "code_challenge"):
        return "no code_challenge"
    return None


test_s256 = Scenario(
    id="pkce/s256",
    title="Every authorization request uses PKCE S256 and every code exchange sends the verifier",
    actions=CALL,
    checks=[
        checks.every_request("authorize", _challenge, id="PKCE-1.s256-challenge",
                             requirements=["MCP-2025-06-18:PKCE-1", "RFC7636-4.3"], what="/authorize request"),
        checks.every_request("token", lambda e: None if field(e, "code_verifier") else "no code_verifier",
                             id="PKCE-1.verifier-sent", requirements=["MCP-2025-06-18:PKCE-1", "RFC7636-4.5"],
                             what="code exchange", grant_type="authorization_code"),
        checks.outcome_ok("PKCE-1.connects", ["MCP-2025-06-18:PKCE-1"]),
    ],
).as_test()

test_no_methods_advertised = Scenario(
    id="pkce/no_methods_advertised",
    title="The AS metadata lacks code_challenge_methods_supported: refuse to proceed",
    knobs={"advertise_pkce": False},
    actions=CALL,
    checks=[
        checks.no_request("authorize", id="PKCE-2.refuse-without-methods",
                          requirements=["MCP-2025-11-25:PKCE-2", "RFC8414-2"],
                          why="the metadata does not say the AS supports PKCE, so the client must not proceed"),
    ],
).as_test()
