"""Run a driver process under the conformance client contract and collect its outcome line.

Shared by the ``mcp-python-sdk`` and ``ts-sdk`` adapters. The driver gets ``<command> <server_url>``,
``MCP_CONFORMANCE_SCENARIO`` and ``MCP_CONFORMANCE_CONTEXT`` (with ``control: "stdio"``). The driver keeps one session for
the whole script and asks its parent (the adapter, which holds the mock server) for what only the harness
can do, one JSON line each way:

- ``{"await": i, "action": {...}}``: perform harness action ``i`` (revoke, arm a fault, advance the clock,
  wait for a gate...) between client steps;
- ``{"await": i, "during": "start" | "end"}``: client step ``i`` has "during" actions: start running them
  now (in a thread) / the step is over, stop them.

The reply is ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

ControlHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None] | dict[str, Any] | None]


@dataclass
class DriverRun:
    """What a driver process produced."""

    outcome: dict[str, Any] | None
    returncode: int | None
    stderr: str
    duration_s: float
    timed_out: bool = False
    stdout_noise: list[str] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        """Why there is no usable outcome, or None."""
        if self.timed_out:
            return f"the driver did not finish in time; stderr tail: {self.stderr_tail()}"
        if self.outcome is None:
            return f"the driver exited {self.returncode} without an outcome line; stderr tail: {self.stderr_tail()}"
        return None

    def stderr_tail(self, lines: int = 15) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


async def run_driver(
    command: Sequence[str],
    server_url: str,
    context: dict[str, Any],
    *,
    scenario: str = "harness",
    on_control: ControlHandler | None = None,
    timeout_s: float = 90.0,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> DriverRun:
    ctx = {**context, "outcome_json": True, "control": "stdio"}
    ctx.setdefault("timeout_s", max(5.0, timeout_s - 5.0))
    penv = {**os.environ, **(env or {}), "MCP_CONFORMANCE_SCENARIO": scenario,
            "MCP_CONFORMANCE_CONTEXT": json.dumps(ctx)}
    t0 = time.monotonic()
    outcome: dict[str, Any] | None = None
    noise: list[str] = []
    stderr_chunks: list[str] = []
    timed_out = False
    proc: Process = await anyio.open_process([*command, server_url], env=penv, cwd=cwd)
    try:
        async def pump_stderr() -> None:
            assert proc.stderr is not None
            async for chunk in TextReceiveStream(proc.stderr, errors="replace"):
                stderr_chunks.append(chunk)

        async def reply(obj: dict[str, Any]) -> None:
            assert proc.stdin is not None
            await proc.stdin.send((json.dumps(obj, default=str) + "\n").encode())

        async def pump_stdout() -> None:
            nonlocal outcome
            assert proc.stdout is not None
            buf = ""
            async for chunk in TextReceiveStream(proc.stdout, errors="replace"):
                buf += chunk
                while "\n" in buf:
                    line, buf = buf.split("\n", 1)
                    msg = _parse(line)
                    if msg is None:
                        if line.strip():
                            noise.append(line[:300])
                    elif "await" in msg:
                        await reply(await _perform(on_control, msg))
                    elif "ok" in msg:
                        outcome = msg
                    else:
                        noise.append(line[:300])
            if buf.strip():
                msg = _parse(buf)
                if msg is not None and "ok" in msg:
                    outcome = msg

        with anyio.move_on_after(timeout_s) as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump_stderr)
                tg.start_soon(pump_stdout)
            await proc.wait()
        timed_out = scope.cancelled_caught
    finally:
        if proc.returncode is None:
            proc.kill()
            with anyio.move_on_after(5, shield=True):
                await proc.wait()
        await proc.aclose()
    return DriverRun(outcome=outcome, returncode=proc.returncode, stderr="".join(stderr_chunks),
                     duration_s=time.monotonic() - t0, timed_out=timed_out, stdout_noise=noise)


def _parse(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


async def _perform(handler: ControlHandler | None, message: dict[str, Any]) -> dict[str, Any]:
    if handler is None:
        return {"ok": False, "error": f"no harness to handle {json.dumps(message)[:200]}"}
    try:
        res = handler(message)
        if inspect.isawaitable(res):
            res = await res
        return {"ok": True, **(res or {})}
    except Exception as exc:  # noqa: BLE001 - the driver records it as the step's failure
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
