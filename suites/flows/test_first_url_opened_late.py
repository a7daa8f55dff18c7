"""C02: the browser opens the first tab's authorization URL only after a second tab has started a flow.

Trigger: two tabs of one client need authorization for the same (user, server) at once. The headless
browser holds the first authorization URL until the client has started or joined two flows (the second
tab's initiation), then completes that FIRST URL. The AS binds each code to its own PKCE challenge.

A buggy client keeps one PKCE verifier per (user, server) (LibreChat #13528/#13532, mcp-remote #320): the
second initiation overwrites the first verifier, the first URL's code is redeemed with the wrong verifier,
and the token endpoint answers ``invalid_grant``. A correct client keeps at most one pending flow per key
and lets the second tab join it; verifiers are keyed by ``state``.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.flows._checks import max_outstanding_authorize, no_invalid_grant_on_code_exchange

test_first_url_opened_late = Scenario(
    id="flows/first_url_opened_late",
    title="The same (user, server) starts twice; the browser completes the first URL last",
    knobs={"enforce_client_id": True},
    user_agent={"hold_until_flows": 2},
    actions=[a.open_tabs(2)],
    checks=[
        no_invalid_grant_on_code_exchange(
            id="C02.no-invalid-grant", requirements=["C02", "RFC7636-4.6"],
            why="the verifier sent does not match the challenge of the URL the browser completed (it was "
                "replaced by a later initiation)"),
        max_outstanding_authorize(1, id="C02.one-outstanding-flow", requirements=["C02", "C07"]),
        checks.outcome_ok("C02.both-tabs-succeed", ["C02"]),
    ],
    needs={"tabs", "callbacks"},
    markers=("race",),
).as_test()
