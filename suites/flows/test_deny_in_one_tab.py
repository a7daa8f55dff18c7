"""C06: the user denies consent in the browser while two tabs wait for the same flow.

Trigger: two tabs need authorization at once; they share one flow (the browser opens its URL once both
have started or joined it), and the AS redirects back with ``error=access_denied`` once. Then the user
comes back ten minutes later (the manual clock; any flow the client left pending has expired by then)
and connects again.

A buggy client ignores the ``error=`` callback (screenpipe #5122, spawn #2038, atlassian-mcp-server #21):
both tabs wait until their timeout, the dead flow stays pending and the next attempt joins it, or the
client re-prompts in a loop. A correct client fails the flow at once in both tabs with
``access_denied``, sends no ``/token``, opens no new URL by itself, and a later attempt starts afresh.
"""

from __future__ import annotations

from harness import Scenario
from harness import actions as a
from suites.callbacks._checks import fails_with_as_error, no_reprompt_loop, no_token_after_error
from suites.flows._checks import steps_ok

test_deny_in_one_tab = Scenario(
    id="flows/deny_in_one_tab",
    title="Two tabs wait on one flow; the user denies consent once, then approves a later attempt",
    faults=[{"endpoint": "authorize", "action": "callback_error", "error": "access_denied", "times": 1,
             "error_description": "the user denied the request"}],
    user_agent={"hold_until_flows": 2},
    actions=[
        a.open_tabs(2),
        a.advance_clock(600 + 60),  # the user comes back later (past the reference's flow lifetime)
        a.connect(),
        a.call_tool("echo", {"text": "after approving"}),
    ],
    checks=[
        fails_with_as_error("access_denied", id="C06.fails-with-as-error", requirements=["C06", "RFC6749-4.1.2.1"]),
        no_token_after_error(id="C06.no-token-after-error", requirements=["C06", "RFC6749-4.1.2.1"],
                             until="advance_clock"),
        no_reprompt_loop(id="C06.no-reprompt-loop", requirements=["C06"], until="advance_clock"),
        steps_ok("C06.later-attempt-succeeds", ["C06"], skip_first=2,
                 title="a later attempt is not stuck behind the denied flow"),
    ],
    # a client that ignores the error waits this long (real time); a correct one never waits for it
    context={"flow_wait_s": 10.0},
    needs={"tabs", "callbacks"},
    timeout_s=30,
).as_test()
