"""Drive the official ``mcp`` Python SDK's OAuth client headlessly (conformance client contract).

    MCP_CONFORMANCE_CONTEXT='{"state_dir": "...", "actions": [...], "outcome_json": true}' \
        python -m client_under_test.sdk_drivers.mcp_python http://127.0.0.1:PORT/mcp

Nothing here second-guesses the SDK: ``OAuthClientProvider`` decides when to discover, register,
refresh and re-authorize. The driver is the application around it: a file-backed ``TokenStorage`` in
``state_dir`` (so ``restart`` works), a redirect handler that plays the browser (GET without
following the redirect, read ``code``/``state``/``iss`` from ``Location``) and a callback handler that
hands those back. See ``client_under_test/sdk_drivers/__init__.py`` for the context extras and the
outcome line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

CLIENT_NAME = "mcp-python-sdk"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
STATE_FILE = "mcp-python-sdk.json"
DEFAULT_ACTIONS: list[dict[str, Any]] = [
    {"do": "connect"},
    {"do": "list_tools"},
    {"do": "call_tool", "name": "echo", "arguments": {"text": "hello"}},
]


def sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("mcp")
    except Exception:  # pragma: no cover - metadata missing only in odd installs
        return "unknown"


class FileTokenStorage(TokenStorage):
    """The SDK's ``TokenStorage``, persisted as JSON in ``state_dir`` (keyed by server URL)."""

    def __init__(self, state_dir: Path, server_url: str) -> None:
        self.path = state_dir / STATE_FILE
        self.server_url = server_url

    def _load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save(self, field: str, value: dict[str, Any]) -> None:
        data = self._load()
        data.setdefault(self.server_url, {})[field] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".mcp-python-sdk.")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, self.path)

    async def get_tokens(self) -> OAuthToken | None:
        raw = self._load().get(self.server_url, {}).get("tokens")
        return OAuthToken.model_validate(raw) if raw else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._save("tokens", tokens.model_dump(mode="json", exclude_none=True))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self._load().get(self.server_url, {}).get("client_info")
        return OAuthClientInformationFull.model_validate(raw) if raw else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._save("client_info", client_info.model_dump(mode="json", exclude_none=True))


class HeadlessBrowser:
    """The user agent: GETs the authorization URL, never follows the redirect, keeps the callback."""

    def __init__(self, actor: str | None) -> None:
        self.actor = actor
        self.authorizations = 0
        self._pending: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorizations += 1
        headers = {"x-harness-actor": self.actor} if self.actor else {}
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            resp = await http.get(authorization_url, headers=headers)
        location = resp.headers.get("location")
        if resp.status_code not in (301, 302, 303, 307, 308) or not location:
            raise RuntimeError(f"authorization endpoint answered {resp.status_code} without a redirect")
        params = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        if "error" in params:
            raise RuntimeError(f"authorization error={params['error']} {params.get('error_description', '')}".strip())
        if "code" not in params:
            raise RuntimeError(f"authorization redirect carries no code: {location}")
        self._pending = AuthorizationCodeResult(code=params["code"], state=params.get("state"),
                                                iss=params.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        result, self._pending = self._pending, None
        if result is None:
            raise RuntimeError("callback handler called with no authorization response")
        return result


def classify(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if "invalid_grant" in text:
        return "invalid_grant"
    if "401" in text or "Unauthorized" in text:
        return "unauthorized"
    if type(exc).__name__.startswith("OAuth") or "authorization" in text.lower():
        return "auth_flow"
    return "other"


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"[:500]


def leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class Driver:
    def __init__(self, server_url: str, ctx: dict[str, Any]) -> None:
        self.server_url = server_url
        self.ctx = ctx
        self.actor: str | None = ctx.get("actor")
        self.redirect_uri: str = ctx.get("redirect_uri") or REDIRECT_URI
        sd = ctx.get("state_dir")
        self.state_dir = Path(sd) if sd else Path(tempfile.mkdtemp(prefix="mcp-python-sdk-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.browser = HeadlessBrowser(self.actor)
        self.control = ctx.get("control") == "stdio"
        self.steps: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.client: Client | None = None
        self._stack: Any = None
        self.restarts = 0

    # -- the SDK -----------------------------------------------------------------------------------
    def _provider(self) -> OAuthClientProvider:
        storage = FileTokenStorage(self.state_dir, self.server_url)
        metadata = OAuthClientMetadata(
            client_name="mcp-oauth-harness (mcp python sdk driver)",
            redirect_uris=[self.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method=self._auth_method(),
        )
        return OAuthClientProvider(
            server_url=self.server_url,
            client_metadata=metadata,
            storage=storage,
            redirect_handler=self.browser.redirect_handler,
            callback_handler=self.browser.callback_handler,
        )

    def _auth_method(self) -> str:
        return self.ctx.get("token_endpoint_auth_method") or (
            "client_secret_post" if self.ctx.get("client_secret") else "none")

    async def _seed_preregistered(self) -> None:
        cid = self.ctx.get("client_id")
        if not cid:
            return
        storage = FileTokenStorage(self.state_dir, self.server_url)
        if await storage.get_client_info() is None:
            await storage.set_client_info(OAuthClientInformationFull(
                client_id=cid,
                client_secret=self.ctx.get("client_secret"),
                redirect_uris=[self.redirect_uri],
                token_endpoint_auth_method=self._auth_method(),
            ))

    async def _open(self) -> Client:
        from contextlib import AsyncExitStack

        await self._seed_preregistered()
        provider = self._provider()

        async def tag(request: httpx2.Request) -> None:
            if self.actor:
                request.headers["x-harness-actor"] = self.actor

        http = create_mcp_http_client(auth=provider)
        http.event_hooks["request"].append(tag)
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(http)
            client = Client(streamable_http_client(self.server_url, http_client=http), cache=None)
            await stack.enter_async_context(client)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.client = client
        return client

    async def _close(self) -> None:
        stack, self._stack, self.client = self._stack, None, None
        if stack is not None:
            # No cancel scope of our own here: the Client's task group must exit in the scope it entered.
            try:
                await stack.aclose()
            except Exception as exc:  # noqa: BLE001 - closing must not mask the outcome
                print(f"[mcp-python-sdk driver] close: {describe(exc)}", file=sys.stderr)

    async def _session(self) -> Client:
        return self.client if self.client is not None else await self._open()

    # -- actions -----------------------------------------------------------------------------------
    async def _call(self, action: dict[str, Any]) -> dict[str, Any]:
        client = await self._session()
        name = action.get("name", "echo")
        args = action.get("arguments")
        if args is None:
            args = {"text": "hello"} if name == "echo" else {}
        result = await client.call_tool(name, args)
        text = " ".join(getattr(c, "text", "") for c in result.content)[:200]
        if result.is_error:
            raise ToolError(text)
        return {"result": text}

    async def _burst(self, action: dict[str, Any]) -> dict[str, Any]:
        n = int(action.get("n", 2))
        await self._session()
        results: list[dict[str, Any] | None] = [None] * n

        async def one(k: int) -> None:
            t0 = time.monotonic()
            try:
                r = await self._call(action)
                results[k] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000), **r}
            except Exception as exc:  # noqa: BLE001 - each call's failure is data
                results[k] = {"ok": False, "ms": round((time.monotonic() - t0) * 1000),
                              "error": describe(exc), "kind": classify(leaf(exc))}

        async with anyio.create_task_group() as tg:
            for k in range(n):
                tg.start_soon(one, k)
        failed = [r for r in results if r and not r["ok"]]
        out: dict[str, Any] = {"n": n, "results": results, "failed": len(failed)}
        if failed:
            raise BurstError(f"{len(failed)} of {n} concurrent calls failed: {failed[0]['error']}", out,
                             failed[0]["kind"])
        return out

    async def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """One control round trip with the parent (context control=stdio)."""
        print(json.dumps(message), flush=True)
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        return json.loads(line) if line.strip() else {"ok": False, "error": "parent closed stdin"}

    async def _delegate(self, i: int, action: dict[str, Any]) -> dict[str, Any]:
        if not self.control:
            raise Unsupported(f"action {action.get('do')!r} needs the harness (context control=stdio)")
        reply = await self._ask({"await": i, "action": action})
        if not reply.get("ok"):
            raise Unsupported(reply.get("error") or "the harness could not perform the action")
        return {k: v for k, v in reply.items() if k != "ok"}

    async def step(self, i: int, action: dict[str, Any]) -> bool:
        do = action.get("do")
        rec: dict[str, Any] = {"i": i, "do": do, "ok": False}
        t0 = time.monotonic()
        auth_before = self.browser.authorizations
        during = bool(action.get("during")) and self.control
        try:
            if during:  # the parent runs the step's "during" actions (gates, revocations) while it is in flight
                await self._ask({"await": i, "during": "start"})
            if do == "connect":
                await self._session()
            elif do == "list_tools":
                client = await self._session()
                tools = await client.list_tools(cache_mode="bypass")
                rec["tools"] = [t.name for t in tools.tools]
            elif do == "call_tool":
                rec.update(await self._call(action))
            elif do == "burst":
                rec.update(await self._burst(action))
            elif do == "restart":
                await self._close()
                self.restarts += 1
                await self._open()
            elif do == "disconnect":
                await self._close()
            elif do in ("open_tabs", "replicas"):
                raise Unsupported(f"{do}: this driver is one process with one session")
            else:
                rec.update(await self._delegate(i, action))
            rec["ok"] = True
        except BurstError as exc:
            rec.update(exc.detail)
            self._fail(rec, i, exc.kind, str(exc))
        except ToolError as exc:
            self._fail(rec, i, "tool_error", str(exc))
        except Unsupported as exc:
            self._fail(rec, i, "unsupported", str(exc))
        except Exception as exc:  # noqa: BLE001 - the SDK's failure is the observation
            self._fail(rec, i, classify(leaf(exc)), describe(exc))
            print(f"[mcp-python-sdk driver] step {i} {do}:\n{traceback.format_exc()}", file=sys.stderr)
            if do in ("connect", "restart"):
                await self._close()
        if during:
            await self._ask({"await": i, "during": "end"})
        rec["ms"] = round((time.monotonic() - t0) * 1000)
        rec["authorizations"] = self.browser.authorizations - auth_before
        self.steps.append(rec)
        return rec["ok"]

    def _fail(self, rec: dict[str, Any], i: int, kind: str, message: str) -> None:
        rec["error"] = message
        rec["kind"] = kind
        self.errors.append({"step": i, "kind": kind, "message": message})

    async def run(self, actions: list[dict[str, Any]]) -> dict[str, Any]:
        timeout = float(self.ctx.get("timeout_s", 60))
        # The SDK's Client holds a task group: it must be closed inside the scope that opened it.
        with anyio.move_on_after(timeout) as scope:
            try:
                for i, action in enumerate(actions):
                    await self.step(i, action)
            finally:
                await self._close()
        if scope.cancelled_caught:
            self.errors.append({"step": len(self.steps), "kind": "timeout",
                                "message": f"the driver's {timeout:g}s budget ran out"})
        return {
            "ok": not self.errors,
            "client": CLIENT_NAME,
            "sdk": {"name": "mcp", "version": sdk_version()},
            "scenario": os.environ.get("MCP_CONFORMANCE_SCENARIO"),
            "steps": self.steps,
            "errors": self.errors,
            "authorizations": self.browser.authorizations,
            "restarts": self.restarts,
        }


class ToolError(Exception):
    pass


class Unsupported(Exception):
    pass


class BurstError(Exception):
    def __init__(self, message: str, detail: dict[str, Any], kind: str) -> None:
        super().__init__(message)
        self.detail = detail
        self.kind = kind


def load_context() -> dict[str, Any]:
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}"
    try:
        ctx = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"MCP_CONFORMANCE_CONTEXT is not JSON: {exc}") from None
    if not isinstance(ctx, dict):
        raise SystemExit("MCP_CONFORMANCE_CONTEXT must be a JSON object")
    return ctx


def emit(outcome: dict[str, Any], ctx: dict[str, Any]) -> None:
    flag = ctx.get("outcome_json")
    line = json.dumps(outcome, default=str)
    if isinstance(flag, str) and flag.lower() not in ("1", "true", "yes", ""):
        Path(flag).write_text(line + "\n")
    if flag:
        print(line, flush=True)
    else:
        for e in outcome["errors"]:
            print(f"[mcp-python-sdk driver] step {e['step']}: {e['kind']}: {e['message']}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m client_under_test.sdk_drivers.mcp_python <server_url>", file=sys.stderr)
        return 2
    ctx = load_context()
    actions = ctx.get("actions") or DEFAULT_ACTIONS
    outcome = anyio.run(Driver(argv[0], ctx).run, actions)
    emit(outcome, ctx)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
