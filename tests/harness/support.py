"""Shared helpers for the harness's own tests: an in-process fake client and scenario builders."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx

from harness.model import CAPABILITIES, Action, Outcome, ScenarioEnv, StepResult
from harness.script import execute

FAKE_CLIENT = Path(__file__).with_name("fake_client.py")
FAKE_CMD = f"{sys.executable} {FAKE_CLIENT}"


class FakeAdapter:
    """Performs every call_tool as one unauthenticated MCP POST; ``mode="hang"`` never returns."""

    unavailable: str | None = None

    def __init__(self, name: str = "fake", capabilities: frozenset[str] = CAPABILITIES, mode: str = "") -> None:
        self.name = name
        self.capabilities = capabilities
        self.mode = mode
        self.seen: list[Action] = []

    async def run(self, env: ScenarioEnv, actions: list[Action]) -> Outcome:
        async def step(action: Action) -> Any:
            self.seen.append(action)
            if self.mode == "hang":
                await asyncio.Event().wait()
            if action["do"] == "burst":
                return list(await asyncio.gather(*[step({"do": "call_tool"}) for _ in range(action["n"])]))
            if action["do"] in ("call_tool", "list_tools"):
                async with httpx.AsyncClient(timeout=10) as c:
                    r = await c.post(env.server_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                           "params": {"name": "echo", "arguments": {}}},
                                     headers={"x-harness-actor": "main",
                                              "accept": "application/json, text/event-stream"})
                return StepResult(action, True, "main", detail=str(r.status_code))
            return StepResult(action, True, "main")

        return await execute(env, actions, step)
