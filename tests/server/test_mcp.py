"""The MCP tools through the official SDK's own client: over streamable HTTP (mounted in
``retain serve`` on a real uvicorn) and over stdio (``retain mcp`` as a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.server.conftest import RunningServer

TOOLS = {
    "add_memory",
    "remember_conversation",
    "search_memories",
    "update_memory",
    "delete_memory",
    "get_profile",
    "update_profile",
}


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if set(content) == {"result"} else content
    return json.loads(result.content[0].text)


def _error(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


async def exercise(client: Client, own: str, other: str) -> int:
    """Every tool on the key's own user (works) and on another user (refused, revealing
    nothing); returns how many cross-tenant attempts were refused."""
    names = {t.name for t in (await client.list_tools()).tools}
    assert names >= TOOLS
    mine = ["users", own, "memories"]
    theirs = ["users", other, "memories"]
    added = _data(await client.call_tool("add_memory", {"namespace": mine, "content": "likes tea"}))
    key = added["key"]
    found = _data(
        await client.call_tool("search_memories", {"prefix": ["users", own], "query": "tea"})
    )
    assert [f["value"]["content"] for f in found] == ["likes tea"]
    updated = await client.call_tool(
        "update_memory", {"namespace": mine, "key": key, "content": "likes green tea"}
    )
    assert _data(updated)["value"] == {"content": "likes green tea"}
    profile = await client.call_tool("update_profile", {"user_id": own, "fields": {"name": "Al"}})
    assert _data(profile)["profile"]["name"] == "Al"
    assert _data(await client.call_tool("get_profile", {"user_id": own}))["profile"]["name"] == "Al"
    job = await client.call_tool(
        "remember_conversation",
        {"namespace": mine, "messages": [{"role": "user", "content": "hi"}], "delay": 600},
    )
    assert _data(job)["state"] == "queued"

    attempts = [
        ("add_memory", {"namespace": theirs, "content": "x"}),
        ("search_memories", {"prefix": ["users", other], "query": "tea"}),
        ("search_memories", {"prefix": ["users"], "query": "tea"}),
        ("update_memory", {"namespace": theirs, "key": "secret", "content": "x"}),
        ("delete_memory", {"namespace": theirs, "key": "secret"}),
        ("get_profile", {"user_id": other}),
        ("update_profile", {"user_id": other, "fields": {"name": "Mallory"}}),
        (
            "remember_conversation",
            {"namespace": theirs, "messages": [{"role": "user", "content": "x"}]},
        ),
    ]
    refused = 0
    for name, args in attempts:
        message = _error(await client.call_tool(name, args))
        assert "outside this API key's namespaces" in message, (name, message)
        assert "secret" not in message
        assert "Bea" not in message
        refused += 1
    assert _data(await client.call_tool("delete_memory", {"namespace": mine, "key": key}))
    return refused


def _seed_other(server: RunningServer) -> tuple[str, str]:
    """Keys for u1 and u2 (templated prefixes); u2 owns a memory and a profile."""
    secrets = []
    with server.client() as admin:
        for user in ("u1", "u2"):
            made = admin.post(
                "/v1/keys",
                json={
                    "name": user,
                    "prefixes": [["users", "{key_subject}"]],
                    "subject": user,
                },
            )
            secrets.append(made.json()["secret"])
        admin.post(
            "/v1/memories",
            json={"namespace": ["users", "u2", "memories"], "key": "secret", "value": {"c": 1}},
        )
        admin.patch("/v1/profiles/u2", json={"name": "Bea"})
    return secrets[0], secrets[1]


def test_mcp_tools_over_streamable_http(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    u1, _ = _seed_other(server)

    async def run() -> int:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {u1}"})
        async with (
            http,
            Client(streamable_http_client(f"{server.url}/mcp/", http_client=http)) as client,
        ):
            return await exercise(client, "u1", "u2")

    assert asyncio.run(run()) == 8
    with server.client() as admin:  # u2's data is untouched
        item = admin.get("/v1/memories/item?namespace=users.u2.memories&key=secret").json()
        assert item["value"] == {"c": 1}
        assert admin.get("/v1/profiles/u2").json()["profile"]["name"] == "Bea"


def test_mcp_over_http_needs_a_valid_key(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()

    async def run() -> str:
        http = create_mcp_http_client(headers={"Authorization": "Bearer rk_nope_nope"})
        async with (
            http,
            Client(streamable_http_client(f"{server.url}/mcp/", http_client=http)) as client,
        ):
            result = await client.call_tool("search_memories", {"prefix": ["users"], "query": "x"})
            return _error(result)

    assert "unknown or revoked" in asyncio.run(run())


def test_mcp_tools_over_stdio(tmp_path: Path) -> None:
    from retain.embeddings import DEFAULT_EMBED, MINILM_DIMS
    from retain.server.keys import open_key_store
    from retain.stores import open_store

    url = f"sqlite:///{tmp_path / 'memories.db'}"
    store = open_store(url, index={"embed": DEFAULT_EMBED, "dims": MINILM_DIMS})
    keys = open_key_store(store)
    _, u1 = keys.create("u1", prefixes=[("users", "{key_subject}")], subject="u1")
    store.put(("users", "u2", "memories"), "secret", {"c": 1})
    keys.close()
    store.close()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")},
        "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "RETAIN_API_KEY": u1,
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "retain.cli", "mcp", "--store", url], env=env
    )

    async def run() -> int:
        async with Client(stdio_client(params)) as client:
            return await exercise(client, "u1", "u2")

    assert asyncio.run(run()) == 8


def test_mcp_over_stdio_refuses_a_bad_key(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env.update(PYTHONPATH=src, RETAIN_API_KEY="rk_nope_nope")
    done = subprocess.run(
        [sys.executable, "-m", "retain.cli", "mcp", "--store", f"sqlite:///{tmp_path / 'm.db'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 4
    assert done.stderr.startswith("retain: error: The API key is unknown or revoked.")
    assert "Traceback" not in done.stderr
    assert "rk_nope_nope" not in done.stderr
