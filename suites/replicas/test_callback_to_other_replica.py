"""C05: the OAuth callback lands on ANOTHER replica than the one that started the flow.

Trigger: two client processes on one shared store; the user agent (the browser behind a load balancer)
delivers every callback to the other replica (``user_agent={"callback_route": "other_replica"}``: the
replicas exchange callbacks through an inbox in the shared state directory, see
client_under_test/replica_callbacks.py). A buggy client keeps the pending flow (state, PKCE verifier,
client_id) in process memory (LibreChat #14724, #13615, #15876, #14629): the receiving replica does not
know the state, no ``/token`` follows and the user is sent to ``/authorize`` again. A correct client keeps
flows in the shared store keyed by ``state``: the receiving replica redeems the code with the flow's own
client_id and verifier, and the initiating replica picks the tokens up from the store.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.replicas._checks import callback_completed_on_other_replica

test_callback_to_other_replica = Scenario(
    id="replicas/callback_to_other_replica",
    title="The authorization callback is delivered to another replica (shared flow state)",
    knobs={"enforce_client_id": True},
    actions=[a.replicas(2, steps=[a.connect(), a.call_tool("echo", {"text": "hi"})])],
    checks=[
        callback_completed_on_other_replica(id="C05.token-follows-callback",
                                            requirements=["C05", "RFC6749-4.1.3", "RFC7636-4.5"]),
        # C05 only: two replica processes start at once here, so whether a C07 client (a flow per request)
        # opens a second /authorize depends on their timing; the flows suites force that interleaving.
        checks.at_most_n_events("request", 1, endpoint="authorize", id="C05.no-second-authorize",
                                requirements=["C05"], what="/authorize"),
        checks.outcome_ok("C05.replicas-succeed", ["C05"]),
    ],
    user_agent={"callback_route": "other_replica"},
    needs={"replicas", "callbacks"},
    store="shared",
    timeout_s=60,
).as_test()
