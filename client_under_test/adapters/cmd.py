"""``cmd:<command>``: any program under the official MCP conformance client contract.

The harness runs ``<command> <server_url>`` with ``MCP_CONFORMANCE_SCENARIO`` (the scenario id) and
``MCP_CONFORMANCE_CONTEXT`` (JSON). A client written for the official suite runs unchanged; the documented
extras (``state_dir``, ``actions``, ``actor``, ``store``, ``revision``, ``outcome_json``, ``clock_offset_s``,
``user_agent``) let it take part in restarts, replicas and bursts. See harness/README.md.
"""

from __future__ import annotations

import os

from client_under_test.adapters.base import BaseAdapter
from client_under_test.adapters.process import ProcessScript
from harness.model import CAPABILITIES, Action, Outcome, ScenarioEnv

#: Set by the plugin's --cmd-capabilities (or this environment variable): a comma-separated subset.
CAPABILITIES_ENV = "MCP_HARNESS_CMD_CAPABILITIES"


def parse_capabilities(text: str) -> frozenset[str]:
    caps = frozenset(c.strip() for c in text.split(",") if c.strip())
    unknown = caps - CAPABILITIES
    if unknown:
        raise ValueError(f"unknown capabilities {', '.join(sorted(unknown))}; choose from {', '.join(sorted(CAPABILITIES))}")
    return caps


class CmdAdapter(BaseAdapter):
    def __init__(self, command: str, capabilities: frozenset[str] | None = None) -> None:
        self.command = command
        self.name = f"cmd:{command}"
        if capabilities is None:
            env = os.environ.get(CAPABILITIES_ENV)
            # The default claims everything: a client that ignores the extras then fails (never passes)
            # the scenarios that need them. Narrow it to get SKIPs instead.
            capabilities = parse_capabilities(env) if env else CAPABILITIES
        self.capabilities = capabilities
        self._script = ProcessScript(command)

    async def run(self, env: ScenarioEnv, actions: list[Action]) -> Outcome:
        return await self._script.run(env, actions)
