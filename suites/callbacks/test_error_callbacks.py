"""C06: every ``error=`` code of the authorization response ends the flow at once, with the AS's error.

Trigger: the mock's ``/authorize`` redirects back to the client with ``error=<code>`` (and the ``state``
and RFC 9207 ``iss``) instead of a code, on every attempt (a ``callback_error`` fault). One scenario per
code of RFC 6749 §4.1.2.1 (``access_denied``, ``invalid_request``, ``unauthorized_client``,
``invalid_scope``, ``server_error``, ``temporarily_unavailable``) and one the RFC does not define
(``weird_custom_error``: extension codes exist and must be treated the same way).

A buggy client only looks for ``code``: it waits until its own timeout (screenpipe #5122, spawn #2038),
or re-prompts in a loop with new ``/authorize`` or ``/register`` calls (atlassian-mcp-server #21). A
correct client fails the matching pending flow at once with the AS's error, sends no ``/token`` and
does not re-prompt by itself.

The client's own wait for a flow is bounded at 5 s here (``flow_wait_s``, the reference's setting) so a
client that ignores the error fails fast with ``timeout``; a correct one never waits at all.
"""

from __future__ import annotations

from harness import Scenario
from harness import actions as a
from suites.callbacks._checks import fails_with_as_error, no_reprompt_loop, no_token_after_error

#: RFC 6749 §4.1.2.1 error codes, plus one it does not define.
CODES = ("access_denied", "invalid_request", "unauthorized_client", "invalid_scope", "server_error",
         "temporarily_unavailable", "weird_custom_error")


def error_callback(code: str) -> Scenario:
    return Scenario(
        id=f"callbacks/{code}",
        title=f"The AS answers every authorization request with error={code}",
        faults=[{"endpoint": "authorize", "action": "callback_error", "error": code, "times": None,
                 "error_description": f"the mock AS says {code}"}],
        actions=[a.connect()],
        checks=[
            fails_with_as_error(code, id="C06.fails-with-as-error", requirements=["C06", "RFC6749-4.1.2.1"]),
            no_token_after_error(id="C06.no-token-after-error", requirements=["C06", "RFC6749-4.1.2.1"]),
            no_reprompt_loop(id="C06.no-reprompt-loop", requirements=["C06"], max_authorize=1),
        ],
        context={"flow_wait_s": 5.0},
        timeout_s=20,
    )


test_access_denied = error_callback("access_denied").as_test()
test_invalid_request = error_callback("invalid_request").as_test()
test_unauthorized_client = error_callback("unauthorized_client").as_test()
test_invalid_scope = error_callback("invalid_scope").as_test()
test_server_error = error_callback("server_error").as_test()
test_temporarily_unavailable = error_callback("temporarily_unavailable").as_test()
test_unknown_error_code = error_callback("weird_custom_error").as_test()
