"""Each client method is its retain.client._calls function, sent: the same request from the
sync and the async client, with that function's parameters and docstring."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import httpx

from retain.client import AsyncRetainClient, RetainClient, _calls


def _recorder(seen: list[tuple[str, str, Any]]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, str(request.url), body))
        return httpx.Response(200, json={"ok": True})

    return handle


def test_sync_and_async_clients_send_the_same_requests() -> None:
    sync_seen: list[tuple[str, str, Any]] = []
    async_seen: list[tuple[str, str, Any]] = []
    client = RetainClient("http://x", transport=httpx.MockTransport(_recorder(sync_seen)))
    client.search(("users",), "tea", limit=3, mode="keyword")
    client.jobs("dead", limit=5)
    client.create_key("ci", prefixes=[("users",)])

    async def run() -> None:
        handler = _recorder(async_seen)
        async with AsyncRetainClient("http://x", transport=httpx.MockTransport(handler)) as c:
            await c.search(("users",), "tea", limit=3, mode="keyword")
            await c.jobs("dead", limit=5)
            await c.create_key("ci", prefixes=[("users",)])

    asyncio.run(run())
    assert sync_seen == async_seen
    assert sync_seen[0][2] == {
        "prefix": ["users"],
        "query": "tea",
        "filter": None,
        "limit": 3,
        "offset": 0,
        "mode": "keyword",
    }
    assert sync_seen[2][2]["permissions"] == ["read", "write"]


def test_a_client_method_has_its_calls_parameters_and_docstring() -> None:
    client = RetainClient("http://x")
    for name in ("put", "search", "submit", "create_key"):
        method = getattr(client, name)
        assert inspect.signature(method) == inspect.signature(getattr(_calls, name)).replace(
            return_annotation=Any
        )
        assert method.__doc__ == getattr(_calls, name).__doc__
