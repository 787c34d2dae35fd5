"""The REST API of ``retain serve`` against a real uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from retain.queue import RetryPolicy
from retain.testing import FakeChatModel, insert
from tests.server.conftest import RunningServer, wait_for

NS = ["users", "u1", "memories"]
Q = "namespace=users.u1.memories"


def error_of(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "hint"}
    return dict(body["error"])


def test_put_get_list_search_delete(server: RunningServer) -> None:
    with server.client() as http:
        for key, text in [("tea", "User likes green tea"), ("car", "User drives a red car")]:
            put = http.post(
                "/v1/memories", json={"namespace": NS, "key": key, "value": {"content": text}}
            )
            assert put.status_code == 200, put.text
            assert put.json()["value"] == {"content": text}
        generated = http.post("/v1/memories", json={"namespace": NS, "value": {"content": "x"}})
        assert len(generated.json()["key"]) == 36  # a UUID when no key is given
        got = http.get(f"/v1/memories/item?{Q}&key=tea").json()
        assert got["namespace"] == NS
        assert got["value"]["content"] == "User likes green tea"
        listed = http.get("/v1/memories?prefix=users.u1").json()
        assert {i["key"] for i in listed} == {"tea", "car", generated.json()["key"]}
        found = http.post(
            "/v1/memories/search",
            json={"prefix": ["users", "u1"], "query": "green tea", "limit": 2},
        ).json()
        assert found[0]["key"] == "tea"
        assert isinstance(found[0]["score"], float)
        filtered = http.post(
            "/v1/memories/search",
            json={"prefix": ["users"], "filter": {"content": "User drives a red car"}},
        ).json()
        assert [i["key"] for i in filtered] == ["car"]
        assert http.delete(f"/v1/memories/item?{Q}&key=tea").status_code == 204
        missing = http.get(f"/v1/memories/item?{Q}&key=tea")
        assert missing.status_code == 404
        assert error_of(missing)["type"] == "NotFoundError"
        assert http.delete(f"/v1/memories/item?{Q}&key=tea").status_code == 404


def test_history_as_of_and_restore(server: RunningServer) -> None:
    with server.client() as http:
        http.post("/v1/memories", json={"namespace": NS, "key": "k", "value": {"content": "v1"}})
        http.post("/v1/memories", json={"namespace": NS, "key": "k", "value": {"content": "v2"}})
        versions = http.get(f"/v1/memories/history?{Q}&key=k").json()
        assert [(v["version"], v["value"]["content"]) for v in versions] == [(1, "v1"), (2, "v2")]
        assert versions[0]["provenance"] == {"api_key": "admin"}
        first_at = datetime.fromisoformat(versions[0]["at"])
        as_of = "/v1/memories/as-of"
        at = http.get(
            as_of, params={"namespace": "users.u1.memories", "key": "k", "at": first_at.isoformat()}
        )
        assert at.json()["value"] == {"content": "v1"}, at.text
        before = (first_at - timedelta(days=1)).isoformat()
        params = {"namespace": "users.u1.memories", "key": "k", "at": before}
        assert http.get(as_of, params=params).status_code == 404
        naive = {**params, "at": "2026-01-01T00:00:00"}
        assert error_of(http.get(as_of, params=naive))["type"] == "InvalidInputError"
        restored = http.post(
            "/v1/memories/restore", json={"namespace": NS, "key": "k", "version": 1}
        )
        assert restored.json()["value"] == {"content": "v1"}
        assert len(http.get(f"/v1/memories/history?{Q}&key=k").json()) == 3
        bad = http.post("/v1/memories/restore", json={"namespace": NS, "key": "k", "version": 9})
        assert (bad.status_code, error_of(bad)["type"]) == (400, "InvalidInputError")


def test_export_streams_json_lines_and_purge_erases(server: RunningServer) -> None:
    with server.client() as http:
        for i in range(3):
            http.post("/v1/memories", json={"namespace": NS, "key": f"k{i}", "value": {"n": i}})
        http.post(
            "/v1/memories", json={"namespace": ["users", "u2"], "key": "k", "value": {"n": 9}}
        )
        with http.stream("GET", "/v1/export?prefix=users.u1") as response:
            assert response.headers["content-type"].startswith("application/x-ndjson")
            records = [json.loads(line) for line in response.iter_lines() if line]
        assert [r["type"] for r in records] == ["item"] * 3 + ["version"] * 3
        assert all(r["namespace"] == NS for r in records)
        assert http.post("/v1/purge", json={"prefix": ["users", "u1"]}).json() == {"purged": 3}
        assert http.get("/v1/memories?prefix=users.u1").json() == []
        assert http.get("/v1/export?prefix=users.u1").text == ""
        assert http.get("/v1/namespaces").json() == [["users", "u2"]]


def test_namespaces_and_stats(server: RunningServer) -> None:
    with server.client() as http:
        for ns in (["a", "b"], ["a", "c"], ["x"]):
            http.post("/v1/memories", json={"namespace": ns, "key": "k", "value": {"v": 1}})
        assert http.get("/v1/namespaces?prefix=a").json() == [["a", "b"], ["a", "c"]]
        assert http.get("/v1/namespaces?max_depth=1").json() == [["a"], ["x"]]
        assert http.get("/v1/namespaces?limit=1&offset=1").json() == [["a", "c"]]
        http.post("/v1/memories", json={"namespace": ["a", "b"], "key": "k2", "value": {"v": 2}})
        summary = http.get("/v1/namespaces/summary?prefix=a").json()
        assert [(s["namespace"], s["items"]) for s in summary] == [(["a", "b"], 2), (["a", "c"], 1)]
        latest = http.get("/v1/memories/item?namespace=a.b&key=k2").json()["updated_at"]
        assert datetime.fromisoformat(summary[0]["last_activity"]) == datetime.fromisoformat(
            latest.replace("Z", "+00:00")
        )
        stats = http.get("/v1/stats?prefix=a").json()
        assert (stats["namespaces"], stats["items"]) == (2, 3)


def test_profiles_get_and_patch_with_validation(server: RunningServer) -> None:
    with server.client() as http:
        empty = http.get("/v1/profiles/u1").json()
        assert empty["profile"] is None
        assert "name" in empty["schema"]["properties"]
        patched = http.patch("/v1/profiles/u1", json={"name": "Alice Chen"})
        assert patched.json()["profile"]["name"] == "Alice Chen"
        http.patch("/v1/profiles/u1", json={"preferred_name": "Ali"})
        profile = http.get("/v1/profiles/u1").json()["profile"]
        assert profile == {"name": "Alice Chen", "preferred_name": "Ali"}
        bad = http.patch("/v1/profiles/u1", json={"age": 3})
        assert (bad.status_code, error_of(bad)["type"]) == (400, "InvalidInputError")
        assert http.get("/v1/profiles/u1").json()["profile"] == profile  # nothing saved


def test_conversations_form_memories_in_the_background_dead_jobs_retry(
    make_server: Callable[..., RunningServer],
) -> None:
    model = FakeChatModel([RuntimeError("model down"), [insert("User likes green tea")]])
    server = make_server(
        model=model, mcp=False, poll_interval=0.02, retry=RetryPolicy(max_attempts=1)
    )
    with server.client() as http:
        sent = http.post(
            "/v1/conversations",
            json={"namespace": NS, "messages": [{"role": "user", "content": "I like green tea"}]},
        )
        assert sent.status_code == 202, sent.text
        job_id = sent.json()["id"]
        dead = wait_for(
            lambda: http.get(f"/v1/jobs/{job_id}").json()["state"] == "dead", "the job to die"
        )
        assert dead
        listed = http.get("/v1/jobs?state=dead").json()
        assert [j["id"] for j in listed] == [job_id]
        assert "model down" in listed[0]["error"]
        assert http.post(f"/v1/jobs/{job_id}/retry").json()["state"] == "queued"
        wait_for(lambda: http.get(f"/v1/jobs/{job_id}").json()["state"] == "done", "the retry")
        found = http.post("/v1/memories/search", json={"prefix": NS, "query": "tea"}).json()
        assert [i["value"]["content"]["content"] for i in found] == ["User likes green tea"]


def test_conversations_debounce_per_thread(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(mcp=False)  # no model: jobs stay queued
    with server.client() as http:
        body = {
            "namespace": NS,
            "messages": [{"role": "user", "content": "hi"}],
            "thread_id": "t1",
            "delay": 60,
        }
        first = http.post("/v1/conversations", json=body).json()
        second = http.post("/v1/conversations", json=body).json()
        other = http.post("/v1/conversations", json={**body, "namespace": ["users", "u2"]}).json()
        assert http.get(f"/v1/jobs/{first['id']}").json()["state"] == "superseded"
        assert http.get(f"/v1/jobs/{second['id']}").json()["state"] == "queued"
        assert http.get(f"/v1/jobs/{other['id']}").json()["state"] == "queued"


def test_errors_have_one_shape(server: RunningServer) -> None:
    with server.client() as http:
        bad_ns = http.post("/v1/memories", json={"namespace": ["langgraph"], "value": {"v": 1}})
        assert (bad_ns.status_code, error_of(bad_ns)["type"]) == (400, "InvalidNamespaceError")
        dotted = http.post("/v1/memories", json={"namespace": ["a.b"], "value": {"v": 1}})
        assert (dotted.status_code, error_of(dotted)["type"]) == (422, "InvalidInputError")
        assert "namespace" in error_of(dotted)["message"]
        schema = http.post("/v1/memories", json={"namespace": NS, "value": "not an object"})
        assert (schema.status_code, error_of(schema)["type"]) == (422, "InvalidInputError")
        unknown = http.get("/v1/nothing-here")
        assert (unknown.status_code, error_of(unknown)["type"]) == (404, "NotFoundError")
        http.post("/v1/memories", json={"namespace": NS, "key": "n", "value": {"n": 1}})
        op = http.post("/v1/memories/search", json={"prefix": NS, "filter": {"n": {"$bad": 1}}})
        assert (op.status_code, error_of(op)["type"]) == (400, "InvalidInputError")
    with server.client(key=None) as anonymous:
        missing = anonymous.get("/v1/namespaces")
        assert (missing.status_code, error_of(missing)["type"]) == (401, "AuthenticationError")
    with server.client(key="rk_abc_wrong") as wrong:
        assert wrong.get("/v1/namespaces").status_code == 401
        assert ADMIN_SECRET_NOT_ECHOED not in wrong.get("/v1/namespaces").text


ADMIN_SECRET_NOT_ECHOED = "rk_abc_wrong"


def test_health_readiness_and_openapi(server: RunningServer) -> None:
    with server.client(key=None) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        spec = http.get("/openapi.json").json()
        assert "/v1/memories/search" in spec["paths"]
        assert "/v1/conversations" in spec["paths"]
        assert http.get("/docs").status_code == 200


def test_a_remote_reflection_executor_submits_to_the_server(
    make_server: Callable[..., RunningServer],
) -> None:
    from retain import ReflectionExecutor

    model = FakeChatModel([[insert("User likes green tea")]])
    server = make_server(model=model, mcp=False, poll_interval=0.02)
    with server.client() as admin:
        secret = admin.post(
            "/v1/keys", json={"name": "u1", "prefixes": [["users", "u1", "memories"]]}
        ).json()["secret"]
    executor = ReflectionExecutor(
        "memory", ("users", "u1", "memories"), url=server.url, api_key=secret
    )
    run = executor.submit({"messages": [("user", "I like green tea")]}, thread_id="t1").result(30)
    executor.shutdown()
    assert run["status"] == "pending"
    with server.client(secret) as u1:
        job_id = run["metadata"]["job_id"]
        wait_for(lambda: u1.get(f"/v1/jobs/{job_id}").json()["state"] == "done", "the run")
        found = u1.post("/v1/memories/search", json={"prefix": NS, "query": "tea"}).json()
        assert [i["value"]["content"]["content"] for i in found] == ["User likes green tea"]
        elsewhere = u1.post(
            "/threads/t2/runs",
            json={
                "assistant_id": "memory",
                "input": {"messages": [["user", "x"]]},
                "config": {"configurable": {"namespace": ["users", "u2"]}},
            },
        )
        assert elsewhere.status_code == 404


def test_search_returns_current_facts_with_as_of_and_superseded_ones_on_request(
    server: RunningServer,
) -> None:
    tea = {
        "content": "User drinks green tea every morning",
        "said_at": "2026-01-01T00:00:00+00:00",
        "valid_to": "2026-03-01T00:00:00+00:00",
        "superseded_by": "coffee",
    }
    coffee = {
        "content": "User drinks coffee every morning now",
        "said_at": "2026-03-01T00:00:00+00:00",
    }
    with server.client() as http:
        for key, value in [("tea", tea), ("coffee", coffee)]:
            put = http.post("/v1/memories", json={"namespace": NS, "key": key, "value": value})
            assert put.status_code == 200, put.text

        def keys(**extra: object) -> list[str]:
            body = {"prefix": NS, "query": "what does the user drink every morning", **extra}
            found = http.post("/v1/memories/search", json=body)
            assert found.status_code == 200, found.text
            return sorted(i["key"] for i in found.json())

        assert keys() == ["coffee"]
        assert keys(include_superseded=True) == ["coffee", "tea"]
        assert keys(as_of="2026-02-01T00:00:00Z") == ["tea"]
        listed = http.post(
            "/v1/memories/search", json={"prefix": NS, "as_of": "2026-02-01T00:00:00Z"}
        ).json()
        assert [i["key"] for i in listed] == ["tea"]
        everything = http.post("/v1/memories/search", json={"prefix": NS}).json()
        assert sorted(i["key"] for i in everything) == ["coffee", "tea"]  # a plain listing
        naive = http.post(
            "/v1/memories/search", json={"prefix": NS, "query": "x", "as_of": "2026-02-01T00:00"}
        )
        assert (naive.status_code, error_of(naive)["type"]) == (422, "InvalidInputError")


def test_facts_formed_in_the_background_carry_when_the_conversation_was_said(
    make_server: Callable[..., RunningServer],
) -> None:
    from datetime import timezone

    model = FakeChatModel([[insert("User likes green tea")], [insert("User owns a cat")]])
    server = make_server(model=model, mcp=False, poll_interval=0.02)
    with server.client() as http:
        said = "2025-05-04T03:02:01+00:00"
        first = http.post(
            "/v1/conversations",
            json={
                "namespace": NS,
                "said_at": said,
                "messages": [{"role": "user", "content": "tea"}],
            },
        )
        assert first.status_code == 202, first.text
        before = datetime.now(timezone.utc).replace(microsecond=0)
        second = http.post(
            "/threads/t1/runs",
            json={
                "input": {"messages": [{"role": "user", "content": "cat"}]},
                "config": {"configurable": {"namespace": NS}},
            },
        )
        assert second.status_code == 200, second.text
        after = datetime.now(timezone.utc)
        for job in (first.json()["id"], second.json()["metadata"]["job_id"]):
            wait_for(lambda j=job: http.get(f"/v1/jobs/{j}").json()["state"] == "done", "a job")
        found = http.post("/v1/memories/search", json={"prefix": ["users"]}).json()
        stamps = {i["value"]["content"]["content"]: i["value"]["said_at"] for i in found}
        assert datetime.fromisoformat(stamps["User likes green tea"]) == datetime.fromisoformat(
            said
        )
        submitted = datetime.fromisoformat(stamps["User owns a cat"])
        assert before <= submitted <= after  # when it was submitted, not when it ran
        bad = http.post(
            "/threads/t2/runs",
            json={
                "input": {"messages": [{"role": "user", "content": "x"}], "said_at": "May"},
                "config": {"configurable": {"namespace": NS}},
            },
        )
        assert (bad.status_code, error_of(bad)["type"]) == (400, "InvalidInputError")
