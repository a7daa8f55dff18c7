"""Headless drivers for MCP client SDKs nobody here wrote, under the official conformance client contract.

Each driver runs as ``<command> <server_url>`` with ``MCP_CONFORMANCE_SCENARIO`` and
``MCP_CONFORMANCE_CONTEXT`` (JSON) in the environment, authorizes headlessly (GET the authorization
URL without following the redirect, read ``code``/``state``/``iss`` from ``Location``), executes the
context's action list with the SDK, and prints one JSON outcome line.

- ``mcp_python``: the official ``mcp`` package's ``OAuthClientProvider`` (httpx2), run as
  ``python -m client_under_test.sdk_drivers.mcp_python <server_url>``.
- ``ts/driver.mjs``: ``@modelcontextprotocol/sdk``'s ``StreamableHTTPClientTransport`` with an
  ``authProvider``, run as ``node client_under_test/sdk_drivers/ts/driver.mjs <server_url>``.

Context extras (all optional; a plain conformance run passes none of them):

``state_dir``
    where the driver keeps its token/registration JSON file, so a ``restart`` (or a new process)
    picks the credentials up again.
``actions``
    the action list, e.g. ``[{"do": "connect"}, {"do": "burst", "n": 4}, {"do": "restart"}]``.
    Without it the driver connects, lists tools and calls ``echo`` once.
``actor``
    sent as ``x-harness-actor`` on every request, so the mock's journal can tell processes apart.
``outcome_json``
    true: print the outcome as one JSON line on stdout. A string other than "1"/"true" is also a
    path the outcome is written to.
``control``
    ``"stdio"``: actions the driver cannot perform itself (``advance_clock``, ``wait_gate``, ...) are
    handed to the parent: the driver prints ``{"await": i, "action": {...}}`` and waits for one line
    on stdin (``{"ok": true}`` or ``{"ok": false, "error": "..."}``).
``client_id`` / ``client_secret`` / ``token_endpoint_auth_method``
    a pre-registered client (the official suite's ``pre-registration`` scenario). The adapters fill
    the method, secret and redirect URI in from the mock's ``pre_registered`` knob when only the id
    is given.
``redirect_uri``
    the redirect URI to register and use (default ``http://127.0.0.1:33418/callback``; nothing
    listens there: the headless browser reads the redirect instead of following it).
``timeout_s``
    the whole run's budget (default 60).

The outcome line: ``{"ok": bool, "client": ..., "steps": [{"i", "do", "ok", "ms", "error", ...}],
"errors": [{"step", "kind", "message"}], "authorizations": n}``. Exit status 0 when ``ok``, else 1.
"""

ERROR_KINDS = ("unauthorized", "invalid_grant", "auth_flow", "timeout", "tool_error", "unsupported", "other")
