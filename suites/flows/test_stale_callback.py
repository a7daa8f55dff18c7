"""C03: stale and forged callbacks are rejected without disturbing the live flow.

``flows/stale_callback``: the browser opens flow A's URL, the AS issues a code, and the tab is closed (the
callback never arrives). The harness moves the manual clock past the client's flow lifetime, so flow A is
abandoned and the first connect fails. The next connect starts flow B; before B's own callback, the
browser delivers A's old callback (A's ``state`` and A's unused code) and then a forged one (an unknown
``state`` with a code the AS never issued).

``flows/forged_callback``: a single flow; a forged callback arrives just before the real one.

A buggy client hands a callback to whatever flow is live (LibreChat #14534/#14549, mcpproxy-go #281 and
#1067/#1068, cloudflare/agents #1926): A's code is redeemed with B's verifier (``invalid_grant``), or the
forged code is redeemed, and B fails. A correct client dispatches every callback by its ``state`` and
rejects unknown or superseded states before any ``/token``.
"""

from __future__ import annotations

from harness import Scenario
from harness import actions as a
from suites.flows._checks import only_issued_codes_redeemed, stale_code_not_redeemed, steps_ok

#: Past the reference client's pending-flow lifetime (ClientConfig.flow_ttl_s = 600 s), on the manual clock.
ABANDON_AFTER_S = 700

test_stale_callback = Scenario(
    id="flows/stale_callback",
    title="An abandoned flow's callback, then a forged one, arrive while a new flow is live",
    knobs={"code_ttl": 3600},  # A's code is still valid: a client that redeems it gets a PKCE mismatch
    user_agent={"abandon": 1, "replay_stale": True, "forge_state": True},
    actions=[
        a.connect(during=[a.wait_journal("code_issued", 1), a.advance_clock(ABANDON_AFTER_S)]),
        a.connect(),
        a.call_tool("echo", {"text": "after the stale callback"}),
    ],
    checks=[
        stale_code_not_redeemed(id="C03.stale-code-not-redeemed", requirements=["C03", "RFC6749-10.12"]),
        only_issued_codes_redeemed(id="C03.forged-code-not-redeemed", requirements=["C03", "RFC6749-10.12"]),
        steps_ok("C03.live-flow-completes", ["C03"], skip_first=1,
                 title="the live flow completes despite the stale and forged callbacks"),
    ],
    needs={"callbacks", "clock"},
).as_test()

test_forged_callback = Scenario(
    id="flows/forged_callback",
    title="A forged callback (unknown state, foreign code) arrives just before the real one",
    user_agent={"forge_state": True},
    actions=[a.connect(), a.call_tool("echo", {"text": "after the forged callback"})],
    checks=[
        only_issued_codes_redeemed(id="C03.forged-code-not-redeemed", requirements=["C03", "RFC6749-10.12"]),
        steps_ok("C03.live-flow-completes", ["C03"], title="the live flow completes despite the forged callback"),
    ],
    needs={"callbacks"},
).as_test()
