"""C22: the loopback redirect port changes between runs.

The client logs in with ``http://127.0.0.1:33418/callback``, then restarts on another free port
(``...:33419/callback``, as a desktop client does when its old port is taken). The AS issues no refresh
token, so the next call needs a new interactive flow, with the new redirect URI.

* ``registration/redirect_port_changes`` (``redirect_match=exact``): the AS compares redirect URIs as
  exact strings, so the old registration cannot be used with the new URI: the client must register again
  for it (registrations are keyed by issuer AND redirect URIs). Keying them by issuer only (vscode #278512,
  copilot-cli #1951) sends the old client_id with an unregistered redirect URI and the AS refuses.
* ``registration/redirect_port_changes_any_port`` (``redirect_match=loopback_any_port``, RFC 8252 7.3): any
  loopback port is fine, so reusing the old registration is allowed (and so is registering again).
"""

from harness import Scenario, checks
from harness import actions as a
from suites.registration._checks import redirect_registered

OLD = "http://127.0.0.1:33418/callback"
NEW = "http://127.0.0.1:33419/callback"

ACTIONS = [
    a.connect(),
    a.call_tool("echo", {"text": "first run"}),
    a.restart(context={"redirect_uri": NEW}),
    a.revoke_tokens(),  # no refresh token: the next call needs an interactive flow on the new port
    a.call_tool("echo", {"text": "second run"}),
]

test_redirect_port_changes = Scenario(
    id="registration/redirect_port_changes",
    title="After a restart on another loopback port, the client registers for the new redirect URI",
    knobs={"redirect_match": "exact", "issue_refresh_tokens": False},
    context={"redirect_uri": OLD},
    actions=ACTIONS,
    checks=[
        redirect_registered(id="C22.redirect-uri-registered", requirements=["C22", "RFC6749-3.1.2.3"]),
        checks.no_event("authorize_refused", id="C22.no-authorize-refused", requirements=["C22"],
                        why="the AS refused the authorization request (an unregistered redirect URI)"),
        checks.outcome_ok("C22.second-run-succeeds", ["C22"]),
    ],
    needs={"dcr", "restart"},
).as_test()

test_redirect_port_changes_any_port = Scenario(
    id="registration/redirect_port_changes_any_port",
    title="With loopback_any_port, a port change may reuse the registration (RFC 8252 7.3)",
    knobs={"redirect_match": "loopback_any_port", "issue_refresh_tokens": False},
    context={"redirect_uri": OLD},
    actions=ACTIONS,
    checks=[
        redirect_registered(id="C22.redirect-uri-acceptable", requirements=["C22", "RFC8252-7.3"],
                            loopback_any_port=True),
        checks.at_most_n_events("request", 2, id="C22.at-most-one-registration-per-port", requirements=["C22"],
                                what="/register", endpoint="register"),
        checks.outcome_ok("C22.second-run-succeeds", ["C22"]),
    ],
    needs={"dcr", "restart"},
).as_test()
