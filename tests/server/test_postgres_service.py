"""``retain serve`` on PostgreSQL: keys in the database, scoping, background jobs, and two
stateless servers on one database sharing keys and revocations."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retain.queue import RetryPolicy
from retain.stores import PostgresStore
from retain.testing import FakeChatModel, insert
from tests.pg_server import PgServer
from tests.server.conftest import RunningServer, wait_for
from tests.stateful.conftest import INDEX

pytestmark = pytest.mark.postgres


def test_keys_scoping_and_jobs_on_postgres(
    pg_server: PgServer, pg_database: str, pg_url: str, make_server: Callable[..., RunningServer]
) -> None:  # the database first: it is dropped after the servers stop
    model = FakeChatModel([[insert("User likes green tea")]])
    server = make_server(
        PostgresStore(pg_url, index=INDEX),  # type: ignore[arg-type]
        mcp=False,
        model=model,
        poll_interval=0.02,
        retry=RetryPolicy(max_attempts=1),
    )
    with server.client() as admin:
        made = admin.post(
            "/v1/keys",
            json={"name": "u1", "prefixes": [["users", "{key_subject}"]], "subject": "u1"},
        ).json()
        admin.post(
            "/v1/memories",
            json={"namespace": ["users", "u2"], "key": "secret", "value": {"c": 1}},
        )
    rows = pg_server.sql(pg_database, "SELECT secret_hash, prefixes FROM retain_api_keys")
    assert len(rows) == 1
    assert made["secret"].split("_", 2)[2] not in rows[0][0]
    with server.client(made["secret"]) as u1:
        job = u1.post(
            "/v1/conversations",
            json={
                "namespace": ["users", "u1"],
                "messages": [{"role": "user", "content": "I like green tea"}],
            },
        ).json()
        wait_for(lambda: u1.get(f"/v1/jobs/{job['id']}").json()["state"] == "done", "the job")
        found = u1.post("/v1/memories/search", json={"prefix": ["users", "u1"], "query": "tea"})
        assert [i["value"]["content"]["content"] for i in found.json()] == ["User likes green tea"]
        refused = [
            u1.get("/v1/memories/item?namespace=users.u2&key=secret"),
            u1.post("/v1/memories/search", json={"prefix": ["users", "u2"], "query": "c"}),
            u1.post("/v1/purge", json={"prefix": ["users", "u2"]}),
            u1.get("/v1/export?prefix=users.u2"),
        ]
        assert [r.status_code for r in refused] == [404] * 4
        assert u1.get("/v1/namespaces").json() == [["users", "u1"]]


def test_two_servers_on_one_database_share_keys_and_revocations(
    pg_url: str, make_server: Callable[..., RunningServer]
) -> None:
    a = make_server(PostgresStore(pg_url, index=INDEX), mcp=False)  # type: ignore[arg-type]
    b = make_server(PostgresStore(pg_url, index=INDEX), mcp=False)  # type: ignore[arg-type]
    with a.client() as admin:
        made = admin.post("/v1/keys", json={"name": "k", "prefixes": [["users", "u1"]]}).json()
    with a.client(made["secret"]) as on_a, b.client(made["secret"]) as on_b:
        body = {"namespace": ["users", "u1"], "key": "k", "value": {"content": "tea"}}
        assert on_a.post("/v1/memories", json=body).status_code == 200
        assert on_b.get("/v1/memories/item?namespace=users.u1&key=k").json()["value"] == {
            "content": "tea"
        }
        with b.client() as admin_b:
            assert admin_b.delete(f"/v1/keys/{made['id']}").status_code == 204
        assert on_a.get("/v1/memories?prefix=users.u1").status_code == 401


def test_two_servers_with_workers_run_each_conversation_once(
    pg_url: str, make_server: Callable[..., RunningServer]
) -> None:
    models = [FakeChatModel([[insert("User said something")]], cycle=True) for _ in range(2)]
    servers = [
        make_server(
            PostgresStore(pg_url, index=INDEX),  # type: ignore[arg-type]
            mcp=False,
            model=model,
            poll_interval=0.02,
        )
        for model in models
    ]
    ids = []
    for n in range(10):
        with servers[n % 2].client() as http:
            body = {"namespace": ["users", "u1"], "messages": [{"role": "user", "content": f"{n}"}]}
            ids.append(http.post("/v1/conversations", json=body).json()["id"])
    with servers[0].client() as http:

        def all_done() -> bool:
            return all(http.get(f"/v1/jobs/{i}").json()["state"] == "done" for i in ids)

        wait_for(all_done, "every job", timeout=120)
        assert len(http.get("/v1/memories?prefix=users.u1").json()) == 10
    calls = [len(m.calls) for m in models]
    assert sum(calls) == 10  # each conversation formed once, by one of the two workers
