"""Remote mode against a real local HTTP server speaking LangGraph's runs protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from retain import ReflectionExecutor
from retain.clock import ManualClock
from retain.errors import ConfigurationError


class RunsServer:
    """Records ``POST /threads/{id}/runs`` and answers with a run record."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body, dict(self.headers)))
                if body.get("assistant_id") == "broken":
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"detail": "reflector crashed"}')
                    return
                thread_id = self.path.split("/")[2]
                run = {
                    "run_id": f"run-{len(server.requests)}",
                    "thread_id": thread_id,
                    "status": "pending",
                }
                data = json.dumps(run).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[RunsServer]:
    s = RunsServer()
    yield s
    s.close()


def test_submissions_become_runs_on_the_server(server: RunsServer) -> None:
    executor = ReflectionExecutor("memory_manager", ("memories",), url=server.url)
    config = {"configurable": {"user_id": "u1", "thread_id": "t1"}}
    payload = {"messages": [HumanMessage("I prefer dark mode")]}
    run = executor.submit(payload, config, after_seconds=30).result(timeout=10)
    again = executor.submit(payload, config, after_seconds=30).result(timeout=10)
    other = executor.submit(payload, {"configurable": {"thread_id": "t2"}}).result(timeout=10)
    executor.shutdown()

    assert run["status"] == "pending"
    (path1, body1, headers), (path2, _, _), (path3, body3, _) = server.requests
    assert path1 == path2 != path3  # same conversation, same server thread
    assert path1 == f"/threads/{run['thread_id']}/runs"
    assert again["thread_id"] == run["thread_id"] != other["thread_id"]
    assert body1["assistant_id"] == "memory_manager"
    assert body1["multitask_strategy"] == "rollback"  # the server cancels the older run
    assert body1["if_not_exists"] == "create"
    assert body1["after_seconds"] == 30
    assert body1["config"] == {"configurable": {"user_id": "u1", "thread_id": "t1"}}
    message = body1["input"]["messages"][0]["__retain_message__"]
    assert message["type"] == "human"
    assert message["data"]["content"] == "I prefer dark mode"
    assert "after_seconds" not in body3  # 0: run now
    assert "x-api-key" not in {k.lower() for k in headers}  # no key read from the env


def test_a_remote_run_carries_when_the_conversation_was_said(server: RunsServer) -> None:
    t0 = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
    clock = ManualClock(start=t0.timestamp())
    executor = ReflectionExecutor("memory_manager", ("memories",), url=server.url, clock=clock)
    executor.submit({"messages": [["user", "hi"]]}, after_seconds=30).result(timeout=10)
    given = {"messages": [["user", "hi"]], "said_at": "2025-01-02T03:04:05+00:00"}
    executor.submit(given, thread_id="t2").result(timeout=10)
    executor.submit({"n": 1}, thread_id="t3").result(timeout=10)  # not a conversation
    executor.shutdown()
    inputs = [body["input"] for _, body, _ in server.requests]
    assert [i.get("said_at") for i in inputs] == [t0.isoformat(), given["said_at"], None]


def test_server_errors_land_in_the_future(server: RunsServer) -> None:
    executor = ReflectionExecutor("broken", url=server.url, api_key="secret")
    future = executor.submit({"messages": [["user", "hi"]]})
    with pytest.raises(Exception, match="reflector crashed"):
        future.result(timeout=10)
    executor.shutdown()
    assert server.requests[0][2].get("x-api-key") == "secret"


def test_failed_jobs_in_remote_mode_is_a_clear_error(server: RunsServer) -> None:
    executor = ReflectionExecutor("memory_manager", ("memories",), url=server.url)
    with pytest.raises(ConfigurationError, match="durable mode"):
        executor.failed_jobs()
    assert executor.queue is None
    assert executor.pending() == 0
    executor.shutdown()
