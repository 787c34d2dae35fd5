"""``RetainClient`` and ``AsyncRetainClient`` against a real server: the same calls, the
same answers, retain's errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from retain.client import AsyncRetainClient, RetainClient
from retain.errors import (
    AuthenticationError,
    InvalidNamespaceError,
    NotFoundError,
    PermissionDeniedError,
    ServerUnavailableError,
)
from tests.server.conftest import ADMIN, RunningServer

NS = ("users", "u1", "memories")


def test_sync_client_round_trip_and_errors(server: RunningServer) -> None:
    with RetainClient(server.url, ADMIN) as admin:
        reader = admin.create_key("reader", prefixes=[("users", "u1")], permissions=["read"])
        item = admin.put(NS, "tea", {"content": "User likes green tea"})
        assert item["key"] == "tea"
        assert admin.get(NS, "tea")["value"] == {"content": "User likes green tea"}
        assert [m["key"] for m in admin.search(("users",), "green tea")] == ["tea"]
        assert [v["version"] for v in admin.history(NS, "tea")] == [1]
        assert [r["type"] for r in admin.export(("users", "u1"))] == ["item", "version"]
        assert admin.namespaces() == [NS]
        assert admin.update_profile("u1", {"name": "Al"})["name"] == "Al"
        assert admin.profile("u1") == {"name": "Al", "preferred_name": None}
        with pytest.raises(NotFoundError):
            admin.get(NS, "nothing")
        with pytest.raises(InvalidNamespaceError):
            admin.put(("langgraph",), "k", {"v": 1})
        assert admin.delete(NS, "tea") is None
    with RetainClient(server.url, reader["secret"]) as read_only:
        assert read_only.search(NS) == []
        with pytest.raises(PermissionDeniedError):
            read_only.put(NS, None, {"v": 1})
        with pytest.raises(NotFoundError):
            read_only.search(("users", "u2"), "tea")
        with pytest.raises(NotFoundError):
            list(read_only.export(("users", "u2")))
    with RetainClient(server.url, "rk_nope_nope") as nobody, pytest.raises(AuthenticationError):
        nobody.namespaces()


def test_async_client_does_the_same(server: RunningServer) -> None:
    async def run() -> None:
        async with AsyncRetainClient(server.url, ADMIN) as client:
            await client.put(NS, "tea", {"content": "User likes green tea"})
            found = await client.search(("users", "u1"), "tea")
            assert [m["key"] for m in found] == ["tea"]
            records = [r async for r in client.export(("users", "u1"))]
            assert [r["type"] for r in records] == ["item", "version"]
            job = await client.submit(NS, [{"role": "user", "content": "hi"}], delay=600)
            assert (await client.job(job["id"]))["state"] == "queued"
            with pytest.raises(NotFoundError):
                await client.get(NS, "nothing")
            assert await client.purge(("users", "u1")) == 1

    asyncio.run(run())


def test_an_unreachable_server_is_server_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with RetainClient(f"http://127.0.0.1:{port}", "rk_secret") as client:
        with pytest.raises(ServerUnavailableError) as caught:
            client.namespaces()
        assert "rk_secret" not in str(caught.value)
        assert caught.value.hint


def test_the_client_recalls_as_of_a_time_and_superseded_facts(server: RunningServer) -> None:
    from datetime import datetime, timezone

    old = {
        "content": "User lives in Rotterdam",
        "said_at": "2026-01-01T00:00:00+00:00",
        "valid_to": "2026-06-01T00:00:00+00:00",
        "superseded_by": "home",
    }
    new = {"content": "User lives in Lisbon", "said_at": "2026-06-01T00:00:00+00:00"}
    with RetainClient(server.url, ADMIN) as admin:
        admin.put(NS, "home-old", old)
        admin.put(NS, "home", new)
        query = "where does the user live"
        assert [m["key"] for m in admin.search(NS, query)] == ["home"]
        march = datetime(2026, 3, 1, tzinfo=timezone.utc)
        assert [m["key"] for m in admin.search(NS, query, as_of=march)] == ["home-old"]
        both = admin.search(NS, query, include_superseded=True)
        assert sorted(m["key"] for m in both) == ["home", "home-old"]
