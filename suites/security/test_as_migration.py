"""C26, REG-3, TOK-1: the protected resource migrates to another authorization server mid-session.

The mock serves a second AS under ``/as2`` (its own clients, tokens and keys; ``knobs.second_as_path``).
The client logs in at the first AS and calls a tool. Then the PRM's ``authorization_servers`` switches to
the second AS, and the resource server only accepts its tokens. A correct client finds the new AS, registers
with it and logs in there; it never sends the first AS's client_id, client secret or refresh token to the
second (typescript-sdk #2271, SEP-2352). Credentials are keyed by AS issuer.
"""

from harness import Scenario, checks
from harness import actions as a
from suites.security._checks import no_as1_credentials_at_as2, registered_with

AS2 = "/as2"

test_as_migration = Scenario(
    id="security/as_migration",
    title="The PRM switches to a second AS: register there, never send it the first AS's credentials",
    knobs={"second_as_path": AS2},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "at AS1"}),
        a.set_knobs(authorization_servers=[AS2]),
        a.call_tool("echo", {"text": "at AS2"}),
    ],
    checks=[
        no_as1_credentials_at_as2(AS2, id="C26.no-as1-credentials-at-as2", requirements=["C26"]),
        registered_with(AS2, id="C26.registers-with-new-as", requirements=["C26"]),
        no_as1_credentials_at_as2(AS2, id="TOK-1.no-tokens-to-other-as", requirements=["MCP-2025-06-18:TOK-1"]),
        registered_with(AS2, id="REG-3.reregister-on-as-change", requirements=["MCP-2026-07-28:REG-3"]),
        checks.outcome_ok("C26.call-succeeds-after-migration", ["C26"]),
    ],
    needs={"dcr", "refresh"},
    since="2025-06-18",
).as_test()
