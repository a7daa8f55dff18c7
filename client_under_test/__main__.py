"""``python -m client_under_test <server_url>``: the reference client under the official MCP
conformance client contract.

The official suite (``@modelcontextprotocol/conformance``) runs ``<command> <server_url>`` with two
environment variables:

``MCP_CONFORMANCE_SCENARIO``
    the scenario name, e.g. ``auth/metadata-default``. Names containing ``2025-03-26`` select that
    legacy revision.
``MCP_CONFORMANCE_CONTEXT``
    JSON. The official auth scenarios send ``client_id`` and ``client_secret`` (pre-registered
    credentials, ``auth/pre-registration``); ``token_endpoint_auth_method`` is also read.

The client authorizes headlessly (it GETs the authorization URL without following the redirect and
reads ``code``, ``state`` and ``iss`` from ``Location``), connects, lists the tools and calls the first
one (arguments made from its input schema). Exit 0 on success; otherwise non-zero with ONE line on
stderr giving the reason.

Documented extras in the context JSON (used by the harness's ``cmd:`` adapter):

``state_dir``     a directory replicas share and restarts keep; the store is sqlite at
                  ``state_dir/store.sqlite3`` (default without it: an in-memory store)
``store``         a store spec instead: ``memory``, ``sqlite:PATH`` or ``redis://host:port/db``
``actions``       a list of steps, run in order, stopping at the first failure:
                  ``{"do": "connect"}`` open an MCP session (initialize);
                  ``{"do": "list_tools"}``;
                  ``{"do": "call_tool", "name": "echo", "arguments": {...}}`` (defaults: the first tool,
                  arguments from its schema);
                  ``{"do": "burst", "n": 5, "name"?, "arguments"?}`` n concurrent tool calls on the session;
                  ``{"do": "tabs", "n": 3}`` n concurrent sessions, each connecting and calling a tool;
                  ``{"do": "open_tabs", "n": 3, "steps"?: [...]}`` n concurrent sessions (actors ``tab-1``..)
                  each running ``steps`` (connect, list_tools, call_tool; default connect + echo);
                  ``{"do": "disconnect"}``; ``{"do": "restart", "context"?: {...}}`` drop the client and the
                  session and start a new client instance on the same store (``context``: keys it changes).
                  Default: connect, list_tools, call_tool.
``keep_going``    true: run every action even after one failed (the harness's script semantics)
``clock_offset_s``  the harness's manual clock minus real time: the client's clock (token expiry, flow TTL)
``clock_file``    a JSON file ``{"clock_offset_s"}`` the harness rewrites when its clock moves mid-run
``flow_wait_s``, ``flow_ttl_s``, ``refresh_skew_s``, ... ClientConfig tuning (``TUNING_KEYS``)
``actor``         the replica label sent as ``x-harness-actor`` (default ``replica-1``)
``user_agent``    the headless browser's behaviour: ``deny``, ``deny_error``, ``deliver_twice``,
                  ``deliver_twice_concurrently``, ``replay_stale``, ``forge_state``, ``abandon``,
                  ``hold_until_flows`` (see client_under_test/user_agent.py; a hold only applies to a run
                  with a burst or tabs), and ``{"callback_route": "other_replica"}``: the browser's callback
                  lands on ANOTHER replica (a load balancer); replicas exchange callbacks through
                  ``state_dir/callback-inbox`` (client_under_test/replica_callbacks.py)
``mutant``        a mutant name from ``client_under_test.mutants.REGISTRY`` (``Cxx-...``)
``revision``      2025-03-26 | 2025-06-18 | 2025-11-25 (default) | 2026-07-28
``redirect_uri``, ``client_name``, ``scope``, ``cimd_url``, ``tenant``, ``user``
                  client configuration. ``cimd_url`` defaults, for official ``auth/*`` scenarios, to the
                  suite's ``https://conformance-test.local/client-metadata.json``
``retry_backoff_s``  base of the transient-retry backoff (default 0.05)
``timeout_s``     HTTP timeout (default 10)
``outcome_json``  true: print one JSON line to stdout:
                  ``{"ok", "scenario", "revision", "steps": [{"do", "action", "ok", "result" | "error",
                  "substeps"?}], "error", "classified_errors", "events", "user_agent"}``; a step's ``error``
                  is the reference's classification plus ``class`` (the harness's error class); a burst's
                  calls and the tabs' steps are its ``substeps``, each with its ``actor``
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

USAGE = """usage: python -m client_under_test <server_url>

The reference MCP OAuth client under the official conformance client contract.
  MCP_CONFORMANCE_SCENARIO  scenario name (e.g. auth/metadata-default)
  MCP_CONFORMANCE_CONTEXT   JSON: client_id, client_secret, token_endpoint_auth_method (pre-registered
                            client); extras: state_dir, store, actions, actor, mutant, revision,
                            redirect_uri, client_name, scope, cimd_url, tenant, user, timeout_s,
                            retry_backoff_s, outcome_json
Authorizes headlessly, connects, lists tools and calls one. Exit 0 on success; otherwise non-zero with
one line on stderr. See `python -c "import client_under_test.__main__ as m; help(m)"` for the details.
"""

OFFICIAL_CIMD_URL = "https://conformance-test.local/client-metadata.json"
DEFAULT_ACTIONS: list[dict[str, Any]] = [{"do": "connect"}, {"do": "list_tools"}, {"do": "call_tool"}]


def revision_for(scenario: str, context: dict[str, Any]) -> str:
    if context.get("revision"):
        return str(context["revision"])
    return "2025-03-26" if "2025-03-26" in scenario else "2025-11-25"


def client_class(mutant: str | None) -> type:
    from client_under_test.reference import ReferenceClient

    if not mutant:
        return ReferenceClient
    try:
        registry = importlib.import_module("client_under_test.mutants").REGISTRY
    except ImportError as exc:
        raise SystemExit(f"mutant {mutant!r} requested but client_under_test.mutants is unavailable: {exc}") from None
    if mutant not in registry:
        raise SystemExit(f"unknown mutant {mutant!r}; known: {', '.join(sorted(registry))}")
    return registry[mutant]


def make_config(scenario: str, context: dict[str, Any]) -> Any:
    from client_under_test.reference import ClientConfig, RetryPolicy

    pre = None
    if context.get("client_id"):
        pre = {k: context[k] for k in ("client_id", "client_secret", "token_endpoint_auth_method", "issuer")
               if context.get(k)}
    cimd = context.get("cimd_url") or (OFFICIAL_CIMD_URL if scenario.startswith("auth/") else None)
    timeout = float(context.get("timeout_s", 10.0))
    kwargs: dict[str, Any] = {
        "revision": revision_for(scenario, context), "pre_registered": pre, "cimd_url": cimd,
        "scope": context.get("scope"), "http_timeout_s": timeout, "lock_lease_s": max(30.0, timeout * 3),
        "retry": RetryPolicy(backoff_base_s=float(context.get("retry_backoff_s", 0.05))),
    }
    for key in ("redirect_uri", "client_name", "tenant", "user"):
        if context.get(key):
            kwargs[key] = context[key]
    for key in TUNING_KEYS:  # a scenario's client tuning (e.g. flow_wait_s), as the in-process adapter applies it
        if context.get(key) is not None:
            kwargs[key] = context[key]
    return ClientConfig(**kwargs)


#: ClientConfig fields a scenario's ``context`` may set as they are (numbers and flags).
TUNING_KEYS = ("flow_ttl_s", "flow_wait_s", "flow_poll_s", "lock_lease_s", "lock_wait_s", "refresh_skew_s",
               "offline_access", "max_step_up", "max_refresh_per_request", "max_interactive_per_request")


class OffsetClock:
    """Real time plus ``clock_offset_s``: the harness's manual clock as seen from another process.

    ``clock_file``: a JSON file ``{"clock_offset_s": ...}`` the harness rewrites when its clock moves while
    this process runs; re-read (when it changed) at most every ``poll_s``."""

    def __init__(self, offset_s: float = 0.0, clock_file: str | None = None, poll_s: float = 0.01) -> None:
        self.offset_s = float(offset_s)
        self.clock_file = clock_file
        self.poll_s = poll_s
        self._checked = 0.0
        self._mtime: int | None = None

    def now(self) -> float:
        t = time.time()
        if self.clock_file and t - self._checked >= self.poll_s:
            self._checked = t
            with contextlib.suppress(OSError, ValueError, TypeError):
                mtime = os.stat(self.clock_file).st_mtime_ns
                if mtime != self._mtime:
                    self.offset_s = float(json.loads(Path(self.clock_file).read_text())["clock_offset_s"])
                    self._mtime = mtime
        return t + self.offset_s


#: ``user_agent`` keys that map to HeadlessUserAgent arguments (``callback_route`` is handled by the Runner;
#: ``delay`` is an in-process event and cannot cross a process boundary).
USER_AGENT_KEYS = ("deny", "deny_error", "deliver_twice", "deliver_twice_concurrently", "replay_stale",
                   "forge_state", "abandon", "hold_until_flows", "timeout_s")
#: Steps during which one client can have several flows in flight (``hold_until_flows`` only applies there).
CONCURRENT_STEPS = frozenset({"burst", "tabs", "open_tabs"})


def user_agent_options(context: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
    """HeadlessUserAgent keyword arguments from the context's ``user_agent`` behaviours.

    ``hold_until_flows`` counts the flows one client started or joined over its life. A process lives for
    one segment of the harness's script, so a hold is only kept for a run that can start several flows at
    once (a burst or tabs); a later segment with one session (the in-process client had already seen its
    flows by then) opens the URL at once instead of waiting out the hold."""
    ua = context.get("user_agent") or {}
    opts = {k: ua[k] for k in USER_AGENT_KEYS if k in ua and ua[k] is not None}
    if opts.get("hold_until_flows") and not any(a.get("do") in CONCURRENT_STEPS for a in actions):
        opts.pop("hold_until_flows")
    return opts


def open_context_store(context: dict[str, Any], now: Any = time.time) -> Any:
    from client_under_test.stores import open_store

    if context.get("store"):
        return open_store(str(context["store"]), now=now)
    if context.get("state_dir"):
        path = Path(context["state_dir"])
        path.mkdir(parents=True, exist_ok=True)
        return open_store(f"sqlite:{path / 'store.sqlite3'}", now=now)
    return open_store("memory", now=now)


def tool_arguments(tool: Any) -> dict[str, Any]:
    """Arguments for a tool from its input schema: required strings "hi", numbers 1, booleans true."""
    schema = getattr(tool, "input_schema", None) or getattr(tool, "inputSchema", None) or {}
    props = schema.get("properties") or {}
    args: dict[str, Any] = {}
    for name in schema.get("required") or []:
        kind = (props.get(name) or {}).get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if kind is None and "anyOf" in (props.get(name) or {}):
            kind = next((o.get("type") for o in props[name]["anyOf"] if o.get("type") != "null"), "string")
        args[name] = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(kind, "hi")
    return args


#: What each tab of ``open_tabs`` runs by default (as the in-process adapters do).
DEFAULT_TAB_STEPS: list[dict[str, Any]] = [{"do": "connect"}, {"do": "call_tool", "name": "echo",
                                                                "arguments": {"text": "hi"}}]


class ToolError(RuntimeError):
    """The server answered a tool call with ``isError``."""


def error_class(exc: BaseException) -> str:
    """The harness's error class (``authorization_failed:<error>``, ``timeout``, ``transient``...)."""
    try:
        from harness.model import classify_error
    except ImportError:  # the client on its own: the reference's code is close enough
        from client_under_test.reference import classify

        return str(classify(exc).get("code"))
    return classify_error(exc)


def step_error(exc: BaseException) -> dict[str, Any]:
    """A failed step's ``error``: the reference's classification plus the harness's ``class``."""
    from client_under_test.reference import classify

    return {**classify(exc), "class": error_class(exc)}


def _substep(action: dict[str, Any], actor: str, result: Any) -> dict[str, Any]:
    """One call of a burst or one step of a tab, reported with its actor (``result``: a value or an exception)."""
    if isinstance(result, BaseException):
        return {"action": action, "do": action.get("do"), "actor": actor, "ok": False, "error": step_error(result)}
    return {"action": action, "do": action.get("do"), "actor": actor, "ok": True, "result": result}


class Runner:
    """Runs an action list against one client instance (recreated on ``restart``)."""

    def __init__(self, server_url: str, scenario: str, context: dict[str, Any]) -> None:
        from client_under_test.user_agent import HeadlessUserAgent

        self.server_url = server_url
        self.scenario = scenario
        self.context = context
        self.actor = str(context.get("actor") or "replica-1")
        self.cls = client_class(context.get("mutant"))
        self.config = make_config(scenario, context)
        self.clock = OffsetClock(float(context.get("clock_offset_s") or 0.0), context.get("clock_file"))
        self.store = open_context_store(context, now=self.clock.now)
        self.inbox = None
        ua = user_agent_options(context, list(context.get("actions") or DEFAULT_ACTIONS))
        if (context.get("user_agent") or {}).get("callback_route") == "other_replica" and context.get("state_dir"):
            from client_under_test.replica_callbacks import InboxTarget, inbox_dir

            self.inbox = inbox_dir(context["state_dir"])  # C05: the load balancer sends callbacks elsewhere
            self.user_agent = HeadlessUserAgent(actor=self.actor, deliver_to=InboxTarget(self.inbox, self.actor), **ua)
        else:
            self.user_agent = HeadlessUserAgent(actor=self.actor, **ua)
        self.client = self._new_client()
        self.stack: contextlib.AsyncExitStack | None = None
        self.session: Any = None
        self.tools: list[Any] | None = None
        self.events: list[dict[str, Any]] = []
        self.substeps: list[dict[str, Any]] | None = None  # set by burst / open_tabs for the step report

    def _new_client(self) -> Any:
        client = self.cls(self.server_url, self.store, self.user_agent, self.config, clock=self.clock)
        client.replica = self.actor
        return client

    async def connect(self) -> Any:
        if self.session is None:
            self.stack = contextlib.AsyncExitStack()
            try:
                self.session = await self.stack.enter_async_context(self.client.session(actor=self.actor))
            except BaseException:
                await self._close_stack()
                raise
        return self.session

    async def _close_stack(self) -> None:
        stack, self.stack, self.session = self.stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def disconnect(self) -> None:
        await self._close_stack()

    async def restart(self, overrides: dict[str, Any] | None = None) -> None:
        """A new client on the same store; ``overrides``: context keys the restart changes (C22 redirect_uri)."""
        await self._close_stack()
        self.events.extend(self.client.events)
        await self.client.aclose()
        if overrides:
            self.config = make_config(self.scenario, {**self.context, **overrides})
        self.client = self._new_client()
        self.tools = None

    async def _tool(self, step: dict[str, Any], session: Any = None) -> tuple[str, dict[str, Any]]:
        """The tool and arguments of a call step; lists the tools (on ``session``, default the main one)
        only when the step does not name both."""
        name = step.get("name")
        if name and step.get("arguments") is not None:
            return name, dict(step["arguments"])
        tools = self.tools
        if tools is None or name:
            session = session or await self.connect()
            tools = self.tools = list((await session.list_tools()).tools)
        if not name:
            if not tools:
                raise RuntimeError("the server lists no tools to call")
            name = tools[0].name
        if step.get("arguments") is not None:
            return name, dict(step["arguments"])
        tool = next((t for t in tools or [] if t.name == name), None)
        return name, tool_arguments(tool) if tool is not None else {}

    async def _call(self, session: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await session.call_tool(name, arguments)
        texts = [getattr(c, "text", None) for c in getattr(result, "content", []) or []]
        if getattr(result, "is_error", False) or getattr(result, "isError", False):
            raise ToolError(f"tool {name} returned an error: {texts}")
        return {"tool": name, "content": [t for t in texts if t is not None]}

    async def step(self, step: dict[str, Any]) -> Any:
        do = step.get("do")
        if do == "connect":
            await self.connect()
            return None
        if do == "list_tools":
            session = await self.connect()
            self.tools = list((await session.list_tools()).tools)
            return [t.name for t in self.tools]
        if do == "call_tool":
            name, arguments = await self._tool(step)
            return await self._call(await self.connect(), name, arguments)
        if do == "burst":
            name, arguments = await self._tool(step)
            session = await self.connect()
            n = int(step.get("n", 2))
            results = await asyncio.gather(*(self._call(session, name, arguments) for _ in range(n)),
                                           return_exceptions=True)
            call = {"do": "call_tool", "name": name, "arguments": arguments}
            self.substeps = [_substep(call, f"{self.actor}#{i + 1}", r) for i, r in enumerate(results)]
            return self._gathered(results)
        if do == "open_tabs":
            return await self._open_tabs(step)
        if do == "tabs":
            name, arguments = await self._tool(step)
            n = int(step.get("n", 2))
            results = await asyncio.gather(*(self._tab(i, name, arguments) for i in range(n)),
                                           return_exceptions=True)
            return self._gathered(results)
        if do == "disconnect":
            await self.disconnect()
            return None
        if do == "restart":
            await self.restart(step.get("context"))
            return None
        raise ValueError(f"unknown action {do!r}")

    async def _open_tabs(self, step: dict[str, Any]) -> dict[str, Any]:
        """``open_tabs``: n concurrent sessions of this client (actors ``tab-1``..), each running ``steps``
        (default: connect, then echo). Every tab step is reported (``substeps``); a failed tab stops there."""
        steps = [dict(s) for s in step.get("steps") or DEFAULT_TAB_STEPS]
        prefix = "" if self.actor == "main" else f"{self.actor}-"
        tabs = await asyncio.gather(*(self._tab_steps(f"{prefix}tab-{i + 1}", steps)
                                      for i in range(int(step.get("n", 2)))))
        self.substeps = [s for subs, _ in tabs for s in subs]
        for _, exc in tabs:
            if exc is not None:
                raise exc
        return {"n": len(tabs)}

    async def _tab_steps(self, actor: str, steps: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Exception | None]:
        out: list[dict[str, Any]] = []
        first: Exception | None = None
        try:
            async with self.client.session(actor=actor) as session:
                for st in steps:
                    if st.get("do") == "connect":
                        out.append(_substep(st, actor, None))
                    elif st.get("do") == "list_tools":
                        out.append(_substep(st, actor, [t.name for t in (await session.list_tools()).tools]))
                    elif st.get("do") == "call_tool":
                        name, arguments = await self._tool(st, session)
                        try:
                            out.append(_substep(st, actor, await self._call(session, name, arguments)))
                        except Exception as exc:  # a failed call is reported; the tab goes on
                            out.append(_substep(st, actor, exc))
                            first = first or exc
                    else:
                        raise ValueError(f"unknown tab step {st.get('do')!r}")
        except Exception as exc:
            out.append(_substep({"do": "tab"}, actor, exc))
            return out, first or exc
        return out, first

    async def _tab(self, i: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        async with self.client.session(actor=f"{self.actor}-tab-{i + 1}") as session:
            return await self._call(session, name, arguments)

    @staticmethod
    def _gathered(results: list[Any]) -> Any:
        """All calls' results, or the first failure raised (the others are in the client's events)."""
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return {"n": len(results), "results": results}

    async def run(self, actions: list[dict[str, Any]]) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        ok = True
        serving = contextlib.AsyncExitStack()
        if self.inbox is not None:
            from client_under_test.replica_callbacks import serving as serve_callbacks

            await serving.enter_async_context(serve_callbacks(lambda: self.client, self.inbox, self.actor))
        try:
            for action in actions:
                shown = {k: v for k, v in action.items() if k != "during"}
                self.substeps = None
                try:
                    result = await self.step(action)
                    steps.append({"do": action.get("do"), "action": shown, "ok": True, "result": result})
                except Exception as exc:
                    steps.append({"do": action.get("do"), "action": shown, "ok": False, "error": step_error(exc)})
                    ok = False
                if self.substeps is not None:  # a burst's calls, the tabs' steps: each with its actor
                    steps[-1]["substeps"] = self.substeps
                if not ok and not self.context.get("keep_going"):
                    break
        finally:
            await serving.aclose()
            await self._close_stack()
            self.events.extend(self.client.events)
            await self.client.aclose()
            with contextlib.suppress(Exception):
                await self.store.close()
        errors = [s["error"] for s in steps if not s["ok"]]
        first = errors[0] if errors else None
        return {"ok": ok, "scenario": self.scenario, "revision": self.config.revision, "steps": steps,
                "error": None if first is None else f"{first['code']}: {first['message']}",
                "classified_errors": errors, "events": self.events[-200:], "user_agent": self.user_agent.events}


def _quiet() -> None:
    if os.environ.get("MCP_CONFORMANCE_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
        return
    logging.getLogger().setLevel(logging.CRITICAL + 1)
    warnings.simplefilter("ignore")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        return 0 if args else 2
    server_url = args[0]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    try:
        context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
        if not isinstance(context, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        print(f"MCP_CONFORMANCE_CONTEXT is not a JSON object: {exc}", file=sys.stderr)
        return 2
    _quiet()
    try:
        runner = Runner(server_url, scenario, context)
        actions = context.get("actions") or DEFAULT_ACTIONS
        outcome = asyncio.run(runner.run(list(actions)))
    except SystemExit as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # configuration errors and the like
        print(f"{type(exc).__name__}: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    if context.get("outcome_json"):
        print(json.dumps(outcome, default=str))
    if not outcome["ok"]:
        print(str(outcome["error"]).replace("\n", " ")[:500], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
