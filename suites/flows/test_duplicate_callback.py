"""C04: a duplicated callback must not exchange its code twice.

``flows/duplicate_callback``: the browser delivers the callback twice at the same time (a retry, or a
second tab, while the first delivery is still being handled). ``flows/duplicate_callback_retry``: the
same callback again after the first one completed. The AS follows RFC 6749 §4.1.2: a replayed code is
refused and the tokens issued for it are revoked (``revoke_tokens_on_code_replay``).

A buggy client exchanges every delivery (LibreChat #10468): the second ``/token`` gets ``invalid_grant``,
the AS revokes the tokens of the first, and the session dies. A correct client completes a callback
idempotently: it takes the flow atomically and exchanges each code once.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from suites.flows._checks import each_code_redeemed_once


def _checks() -> list:
    return [
        each_code_redeemed_once(id="C04.code-redeemed-once", requirements=["C04", "RFC6749-4.1.2"]),
        checks.no_event("code_replayed", id="C04.no-code-replayed", requirements=["C04", "RFC6749-4.1.2"],
                        why="the client sent an already redeemed code again, so the AS revoked its tokens"),
        checks.outcome_ok("C04.session-survives", ["C04"]),
    ]


test_duplicate_callback = Scenario(
    id="flows/duplicate_callback",
    title="The browser delivers the callback twice at the same time",
    knobs={"revoke_tokens_on_code_replay": True},
    user_agent={"deliver_twice_concurrently": True},
    actions=[a.connect(), a.call_tool("echo", {"text": "after the duplicate callback"})],
    checks=_checks(),
    needs={"callbacks"},
    markers=("race",),
).as_test()

test_duplicate_callback_retry = Scenario(
    id="flows/duplicate_callback_retry",
    title="The browser delivers the callback again after the first one completed",
    knobs={"revoke_tokens_on_code_replay": True},
    user_agent={"deliver_twice": True},
    actions=[a.connect(), a.call_tool("echo", {"text": "after the repeated callback"})],
    checks=_checks(),
    needs={"callbacks"},
).as_test()
