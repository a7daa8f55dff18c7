"""C21: a dead dynamic registration is replaced once; a pre-registered client is never wiped.

``registration/expired_dynamic_client``: the AS expires dynamically registered clients 600 s after they
register (``expire_client_after_s``). The client logs in, the harness moves the manual clock 700 s on (no
real waiting) and revokes the access token, so the next call needs the token endpoint, which now answers
``invalid_client``. A correct client forgets that registration, registers ONCE more and carries on. A
client that never replaces it (claude-code #72818, supabase/mcp #355) keeps sending the dead client_id.

``registration/preregistered_invalid_client``: the operator configured a pre-registered client; the AS
also offers dynamic registration. One refresh is answered ``invalid_client`` (a hiccup, a misconfigured
proxy). The pre-registered credentials must stay: no ``/register``, every later request as the same
client. The over-correction (vercel/ai #21020) wipes them and registers dynamically instead.
"""

from harness import Scenario, checks
from harness import actions as a
from suites.registration._checks import preregistered_kept, reregisters_once

PRE_ID = "pre-registered-client-1"

test_expired_dynamic_client = Scenario(
    id="registration/expired_dynamic_client",
    title="An expired dynamic registration (invalid_client) is replaced by exactly one new registration",
    knobs={"expire_client_after_s": 600},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "before"}),
        a.advance_clock(700),  # the registration is now dead; the access token (1 h) is not
        a.revoke_tokens(),  # the next call needs the token endpoint
        a.call_tool("echo", {"text": "after"}),
    ],
    checks=[
        reregisters_once(id="C21.reregisters-once", requirements=["C21", "RFC7591-3"]),
        checks.outcome_ok("C21.call-succeeds-after-reregistration", ["C21"]),
    ],
    needs={"dcr", "clock"},
).as_test()

test_preregistered_invalid_client = Scenario(
    id="registration/preregistered_invalid_client",
    title="A pre-registered client hit by invalid_client keeps its credentials",
    knobs={"pre_registered": [{"client_id": PRE_ID}], "dcr": True},
    context={"client_id": PRE_ID},
    actions=[
        a.connect(),
        a.call_tool("echo", {"text": "before"}),
        a.arm_fault(endpoint="token", action="error", status=401, error="invalid_client",
                    error_description="client authentication failed", match={"grant_type": "refresh_token"},
                    times=1),
        a.revoke_tokens(),
        a.call_tool("echo", {"text": "after"}),
    ],
    checks=[
        preregistered_kept(PRE_ID, id="C21.preregistered-never-wiped", requirements=["C21"]),
        checks.outcome_ok("C21.call-succeeds-with-preregistered", ["C21"]),
    ],
    needs={"preregistered", "refresh"},
).as_test()
