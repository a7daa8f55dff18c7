"""C01: two tabs log in at once with no registration yet; one registration, each code redeemed by its client.

Trigger: two tabs of one client connect at the same time to a server they have never used, so both need
a client registration and an interactive flow. The AS enforces code-to-client binding
(``enforce_client_id``: a code redeemed by another client_id gets 401 ``invalid_client``). A response gate
holds the first ``/register`` (the AS has registered client A) until both tabs have been turned away by the
resource server, so the second tab looks for a registration while the first is still registering; the
browser opens no authorization URL until both tabs have started (or joined) a flow.

A buggy client (LibreChat #11925, Okta behind 3 replicas) registers once per flow: two ``/register`` calls,
the stored registration overwritten, and a flow that used client A at ``/authorize`` redeeming its code as
client B. A correct client registers once per (issuer, redirect_uris) under a lock with a re-read, and
redeems every code with the client_id its flow used at ``/authorize``.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.flows._checks import max_outstanding_authorize, one_registration_per_key

test_two_tabs_first_login = Scenario(
    id="flows/two_tabs_first_login",
    title="Two tabs connect at once with no registration yet (enforce_client_id)",
    knobs={"enforce_client_id": True},
    gates=[{"name": "register", "endpoint": "register", "phase": "response", "max_holds": 1}],
    user_agent={"hold_until_flows": 2},
    actions=[
        a.open_tabs(2, during=[
            a.wait_gate("register", 1, timeout_s=10, precondition=True),  # the AS registered client A
            a.wait_journal("token_rejected", 2, since="start"),  # both tabs need authorization
            a.open_gate("register"),
        ]),
    ],
    checks=[
        one_registration_per_key(id="C01.one-registration-per-key", requirements=["C01", "RFC7591-3"]),
        checks.code_exchanged_with_own_client_id(id="C01.code-redeemed-by-own-client",
                                                 requirements=["C01", "RFC6749-4.1.3"]),
        checks.outcome_ok("C01.both-tabs-succeed", ["C01"]),
        max_outstanding_authorize(1, id="C07.one-outstanding-flow", requirements=["C07"]),
    ],
    needs={"dcr", "tabs", "callbacks"},
    markers=("race",),
).as_test()
