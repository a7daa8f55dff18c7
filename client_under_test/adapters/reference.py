"""``reference``: the reference client, in-process.

Tabs are concurrent sessions of one client; ``restart`` builds a new client on the same store; replicas
are separate OS processes (``python -m client_under_test <url>``, the conformance CLI) on the shared
sqlite/redis store. The client reads the mock's ManualClock, so ``advance_clock`` moves its expiry too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from typing import Any

from client_under_test.adapters.base import BaseAdapter
from client_under_test.adapters.process import python_module_command, run_process, steps_from_run
from harness.model import CAPABILITIES, Action, Outcome, ScenarioEnv, StepResult, classify_error
from harness.script import DEFAULT_STEPS, execute


class ReferenceAdapter(BaseAdapter):
    name = "reference"
    capabilities = CAPABILITIES
    mutant: str | None = None  # set by MutantAdapter; passed to replica processes

    def client_class(self) -> type:
        from client_under_test.reference import ReferenceClient

        return ReferenceClient

    def make_client(self, env: ScenarioEnv, store: Any, overrides: dict[str, Any] | None = None) -> Any:
        """``overrides``: context keys a ``restart`` changes (e.g. a new ``redirect_uri``, C22)."""
        from client_under_test.reference import ClientConfig
        from client_under_test.user_agent import HeadlessUserAgent

        ua_kw = dict(env.user_agent)
        transports: dict[str, Any] = {}
        if env.traffic is not None:  # the race machines observe (and order) every request
            ua_kw["http_transport"] = env.traffic.httpx()
            transports = {"http_transport": env.traffic.httpx(), "mcp_transport": env.traffic.httpx2()}
        ua = _construct(HeadlessUserAgent, ua_kw)
        ctx = {**dict(env.scenario.context), **(overrides or {})}
        conf: dict[str, Any] = {**ctx, "revision": env.revision}
        if ctx.get("client_id") and "pre_registered" not in ctx:  # the official suite's pre-registration keys
            conf["pre_registered"] = {k: ctx[k] for k in ("client_id", "client_secret") if ctx.get(k)}
        return self.client_class()(env.server_url, store, ua, config=_construct(ClientConfig, conf), clock=env.clock,
                                   **transports)

    async def run(self, env: ScenarioEnv, actions: list[Action]) -> Outcome:
        from client_under_test.stores import open_store

        store = open_store(env.store_spec, now=env.clock.now)
        run = _InProcessRun(self, env, store)
        try:
            return await execute(env, actions, run.step)
        finally:
            await run.close()
            await _maybe_close(store)


def _construct(cls: type, kwargs: dict[str, Any]) -> Any:
    """Build ``cls(**kwargs)`` keeping only the keyword arguments it accepts (APIs grow independently)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls(**kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return cls(**kwargs)
    return cls(**{k: v for k, v in kwargs.items() if k in params})


async def _maybe_close(obj: Any) -> None:
    for name in ("aclose", "close"):
        fn = getattr(obj, name, None)
        if fn is not None:
            with contextlib.suppress(Exception):
                res = fn()
                if inspect.isawaitable(res):
                    await res
            return


class _InProcessRun:
    """The state of one script run: the current client, its main session and the open tab sessions."""

    def __init__(self, adapter: ReferenceAdapter, env: ScenarioEnv, store: Any) -> None:
        self.adapter = adapter
        self.env = env
        self.store = store
        self.client = adapter.make_client(env, store)
        self.stack = contextlib.AsyncExitStack()
        self.session: Any = None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stack.aclose()
        self.session = None
        await _maybe_close(self.client)

    async def _main_session(self) -> Any:
        if self.session is None:
            self.session = await self.stack.enter_async_context(self.client.session(actor="main"))
        return self.session

    async def step(self, action: Action) -> list[StepResult] | StepResult:
        do = action["do"]
        if do == "connect":
            await self._main_session()
            return StepResult(action, True, "main")
        if do == "disconnect":
            await self.stack.aclose()
            self.stack, self.session = contextlib.AsyncExitStack(), None
            return StepResult(action, True, "main")
        if do == "restart":
            await self.close()
            self.stack = contextlib.AsyncExitStack()
            self.client = self.adapter.make_client(self.env, self.store, action.get("context"))
            return StepResult(action, True, "main")
        if do in ("call_tool", "list_tools"):
            return await _session_step(await self._main_session(), action, "main")
        if do == "burst":
            s = await self._main_session()
            calls = [{"do": "call_tool", "name": action.get("name", "echo"),
                      "arguments": action.get("arguments", {"text": f"burst-{i}"})} for i in range(int(action["n"]))]
            return list(await asyncio.gather(*[_session_step(s, c, f"main#{i + 1}") for i, c in enumerate(calls)]))
        if do == "open_tabs":
            steps = [dict(s) for s in action.get("steps") or DEFAULT_STEPS()]
            res = await asyncio.gather(*[self._tab(f"tab-{i + 1}", steps) for i in range(int(action["n"]))])
            return [r for rs in res for r in rs]
        if do == "replicas":
            return await self._replicas(action)
        raise ValueError(f"the reference adapter cannot do {do!r}")

    async def _tab(self, actor: str, steps: list[Action]) -> list[StepResult]:
        out: list[StepResult] = []
        t0 = time.monotonic()
        try:
            async with self.client.session(actor=actor) as s:
                for st in steps:
                    if st["do"] == "connect":
                        out.append(StepResult(st, True, actor, duration_s=time.monotonic() - t0))
                    elif st["do"] == "burst":
                        calls = [{"do": "call_tool", "name": st.get("name", "echo"),
                                  "arguments": st.get("arguments", {"text": f"burst-{i}"})} for i in range(int(st["n"]))]
                        out.extend(await asyncio.gather(*[_session_step(s, c, actor) for c in calls]))
                    else:
                        out.append(await _session_step(s, st, actor))
        except Exception as exc:
            out.append(StepResult({"do": "tab"}, False, actor, classify_error(exc), f"{type(exc).__name__}: {exc}",
                                  time.monotonic() - t0))
        return out

    async def _replicas(self, action: Action) -> list[StepResult]:
        env = self.env
        if env.store_spec == "memory":
            return [StepResult(action, False, None, "crash", "replicas need a shared store (sqlite or redis)")]
        steps = [dict(s) for s in action.get("steps") or DEFAULT_STEPS()]
        extra = {"mutant": self.adapter.mutant} if self.adapter.mutant else {}
        runs = await asyncio.gather(*[
            run_process(python_module_command("client_under_test"), env.server_url, env.scenario_id,
                        env.context(steps, actor=f"replica-{k + 1}", **extra),
                        timeout_s=env.step_timeout_s * max(1, len(steps)))
            for k in range(int(action["n"]))])
        return [s for run in runs for s in steps_from_run(run, steps)]


async def _session_step(session: Any, action: Action, actor: str) -> StepResult:
    t0 = time.monotonic()
    try:
        if action["do"] == "list_tools":
            await session.list_tools()
            return StepResult(action, True, actor, duration_s=time.monotonic() - t0)
        result = await session.call_tool(action.get("name", "echo"), action.get("arguments") or {})
    except Exception as exc:
        return StepResult(action, False, actor, classify_error(exc), f"{type(exc).__name__}: {exc}",
                          time.monotonic() - t0)
    if getattr(result, "isError", False) or getattr(result, "is_error", False):
        return StepResult(action, False, actor, "tool_error", str(getattr(result, "content", ""))[:300],
                          time.monotonic() - t0)
    return StepResult(action, True, actor, duration_s=time.monotonic() - t0)
