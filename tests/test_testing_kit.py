"""retain.testing is public API: its fakes and network blocker are tested like the rest."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from retain.testing import (
    FakeChatModel,
    FakeModelExhaustedError,
    NetworkBlockedError,
    block_network,
    insert,
    tool_call,
)


class Answer(BaseModel):
    answer: str


def test_scripted_replies_are_recorded_sync_and_async() -> None:
    model = FakeChatModel(["one", AIMessage(content="two")])
    assert model.invoke("first").content == "one"
    assert asyncio.run(model.ainvoke([("user", "second")])).content == "two"
    assert [c.prompt for c in model.calls] == ["first", "second"]
    with pytest.raises(FakeModelExhaustedError, match="call #3 but has only 2 replies"):
        model.invoke("third")
    model.reset()
    assert model.invoke("again").content == "one"


def test_function_replies_exceptions_and_cycle() -> None:
    echo = FakeChatModel(lambda call: f"you said {call.prompt}")
    assert echo.invoke("hi").content == "you said hi"
    failing = FakeChatModel([RuntimeError("boom")])
    with pytest.raises(RuntimeError, match="boom"):
        failing.invoke("x")
    cycling = FakeChatModel(["a", "b"], cycle=True)
    assert [cycling.invoke("x").content for _ in range(3)] == ["a", "b", "a"]


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_with_structured_output(method: str) -> None:
    model = FakeChatModel([{"answer": "42"}, {"answer": 42}])
    structured = model.with_structured_output(Answer, method=method)
    assert structured.invoke("q") == Answer(answer="42")
    expected_style = "tool_calling" if method == "function_calling" else "json_schema"
    assert model.calls[0].style == expected_style
    raw = model.with_structured_output(Answer, method=method, include_raw=True).invoke("q")
    assert raw["parsed"] is None
    assert raw["parsing_error"] is not None
    assert isinstance(raw["raw"], AIMessage)


def test_tool_calls_and_tool_support_switch() -> None:
    model = FakeChatModel([[tool_call("search", query="tea")]])
    reply = model.bind_tools([Answer], tool_choice="any").invoke("x")
    assert reply.tool_calls[0]["name"] == "search"
    assert reply.tool_calls[0]["args"] == {"query": "tea"}
    assert model.calls[0].tool_names == ["Answer"]
    assert model.calls[0].tool_choice == "any"
    with pytest.raises(NotImplementedError):
        FakeChatModel(tool_calling=False).bind_tools([Answer])


def test_memory_operations_render_per_style() -> None:
    model = FakeChatModel([[insert("likes tea")]], cycle=True)
    as_tools = model.bind_tools([{"title": "Memory", "type": "object"}]).invoke("x")
    assert as_tools.tool_calls[0]["name"] == "Memory"
    assert as_tools.tool_calls[0]["args"] == {"content": "likes tea"}
    as_json = model.bind(response_format={"type": "json_schema", "json_schema": {}}).invoke("x")
    assert as_json.content == (
        '{"operations": [{"action": "insert", "kind": "Memory", "content": {"content": '
        '"likes tea"}}]}'
    )


def test_calls_are_recorded_safely_from_threads() -> None:
    model = FakeChatModel(["ok"], cycle=True)
    threads = [threading.Thread(target=lambda: model.invoke("x")) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.index for c in model.calls) == list(range(20))


def test_the_pytest_plugin_blocks_real_network_calls() -> None:
    with pytest.raises(NetworkBlockedError, match="blocked in tests"):
        socket.create_connection(("203.0.113.7", 443), timeout=1)  # TEST-NET-3 address
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("api.openai.com", 443)


def test_loopback_and_unix_sockets_still_work(tmp_path: object) -> None:
    with block_network():
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client = socket.create_connection(server.getsockname(), timeout=2)
        client.close()
        server.close()
        assert socket.getaddrinfo("localhost", 80)


@pytest.mark.allow_network
def test_allow_network_marker_lifts_the_block() -> None:
    # Resolving needs no traffic when the name is an IP literal; the block would refuse it.
    assert socket.getaddrinfo("203.0.113.7", 443)
