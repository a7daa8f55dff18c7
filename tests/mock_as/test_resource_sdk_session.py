"""A real MCP session with the official SDK client (Streamable HTTP over httpx2) through our bearer layer."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from mock_as.server import MockServer
from tests.mock_as.server_helpers import tokens


async def _session(url: str, token: str | None, actor: str) -> dict[str, Any]:
    headers = {"x-harness-actor": actor}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(headers=headers, timeout=10) as http, \
            streamable_http_client(url, http_client=http) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        echoed = await session.call_tool("echo", {"text": "hello"})
        added = await session.call_tool("add_numbers", {"a": 2, "b": 3})
        return {"tools": [t.name for t in listed.tools], "echo": echoed.content[0].text,
                "add": added.structured_content}


def test_sdk_client_lists_tools_and_calls_echo() -> None:
    with MockServer() as srv:
        tok = tokens(srv)
        out = anyio.run(_session, srv.mcp_url, tok["access_token"], "sdk-1")
        assert out == {"tools": ["echo", "add_numbers"], "echo": "hello", "add": {"result": 5}}
        mcp = [e for e in srv.journal.entries("request") if e.endpoint == "mcp"]
        methods = [e.data["params"].get("method") for e in mcp]
        assert methods[:2] == ["initialize", "notifications/initialized"]
        assert "tools/list" in methods and methods.count("tools/call") == 2
        assert {e.actor for e in mcp} == {"sdk-1"}
        calls = [e for e in mcp if e.data["params"].get("method") == "tools/call"]
        assert [e.data["params"]["tool"] for e in calls] == ["echo", "add_numbers"]
        assert srv.journal.entries("token_rejected") == []
        assert srv.journal.entries("internal_error") == []


def test_sdk_client_without_a_token_is_refused() -> None:
    with MockServer() as srv:
        with pytest.raises(BaseException) as info:  # noqa: B017 - the SDK wraps the 401 in an ExceptionGroup
            anyio.run(_session, srv.mcp_url, None, "sdk-2")
        assert "401" in repr(info.value) or srv.journal.entries("token_rejected")
        assert [e.data["reason"] for e in srv.journal.entries("token_rejected")][:1] == ["missing"]


def test_many_sdk_sessions_in_parallel() -> None:
    async def many(url: str, token: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []

        async def one(i: int) -> None:
            results.append(await _session(url, token, f"tab-{i}"))

        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(one, i)
        return results

    with MockServer() as srv:
        tok = tokens(srv)["access_token"]
        results = anyio.run(many, srv.mcp_url, tok)
        assert len(results) == 5 and all(r["echo"] == "hello" for r in results)
        sessions = {e.data.get("mcp_session") for e in srv.journal.entries("response") if e.endpoint == "mcp"}
        assert len(sessions - {None}) == 5
