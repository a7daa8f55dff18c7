"""``mcp-python-sdk``: the official ``mcp`` package's ``OAuthClientProvider``, driven headlessly.

The driver (``client_under_test/sdk_drivers/mcp_python.py``) runs in its own process with the project's
Python, so the SDK's ``httpx2`` stack never meets the reference client's ``httpx`` one. It is a plain
conformance-contract client; run it by hand with::

    python -m client_under_test.sdk_drivers.mcp_python http://127.0.0.1:PORT/mcp

Capabilities, as the SDK really behaves (read from mcp/client/auth/oauth2.py, 2.3.0):

- ``dcr``: registers through ``registration_endpoint`` when storage holds no client;
- ``preregistered``: a ``client_id`` (and ``client_secret``) in the scenario context is put in its
  ``TokenStorage`` before the first request;
- ``refresh``: refreshes proactively when its local expiry says the token expired (a 401 does *not*
  refresh: it re-authorizes, catalogue C14);
- ``restart``: tokens and client information live in a JSON file in ``state_dir``;
- ``step_up``: a 403 ``insufficient_scope`` re-authorizes with the union of scopes.

Not declared: ``cimd`` (its client-metadata URL must be HTTPS, the mock is plain loopback HTTP),
``tabs``/``replicas`` (one session per process), ``clock`` (it reads the system clock),
``callbacks`` (its browser is the driver's, not the harness's user agent).
"""

from __future__ import annotations

import sys

from client_under_test.adapters.registry import register
from client_under_test.sdk_drivers.bridge import ProcessSdkAdapter

DRIVER_MODULE = "client_under_test.sdk_drivers.mcp_python"


class McpPythonSdkAdapter(ProcessSdkAdapter):
    name = "mcp-python-sdk"
    capabilities = frozenset({"dcr", "preregistered", "refresh", "restart", "step_up"})

    def __init__(self) -> None:
        self.unavailable = self._check()

    @staticmethod
    def _check() -> str | None:
        try:
            from importlib.metadata import version

            import httpx2  # noqa: F401
            from mcp.client.auth import OAuthClientProvider  # noqa: F401

            return None if version("mcp") else "the mcp package has no version metadata"
        except Exception as exc:  # the project pins mcp==2.3.0; a broken venv is worth a clear SKIP
            return f"the mcp Python SDK cannot be imported here ({type(exc).__name__}: {exc})"

    def command(self) -> list[str]:
        return [sys.executable, "-m", DRIVER_MODULE]


register(McpPythonSdkAdapter.name, McpPythonSdkAdapter)
