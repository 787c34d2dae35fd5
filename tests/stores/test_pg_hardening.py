"""PostgreSQL under hostile conditions: server-side errors reported as what they are, huge
values and queries, connections a server restart broke, another client's row lock,
passwords in every connection-string form, and zero vectors."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from retain.errors import (
    ConfigurationError,
    StoreLockedError,
    StoreServerError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from retain.stores import PostgresStore
from retain.stores.pg_driver import PgConnections, Sql, Steps, redact
from tests.pg_server import PgServer
from tests.stateful.conftest import INDEX

pytestmark = pytest.mark.postgres
NS = ("memories", "alice")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url, index=INDEX, pool_size=3)
    yield store
    store.close()


def _query(sql: str) -> Steps[Any]:
    rows = yield Sql(sql)
    return rows


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        # more than 1 MB of distinct words in one tsvector: program_limit_exceeded
        (
            "SELECT to_tsvector('simple', string_agg(md5(i::text), ' ')) "
            "FROM generate_series(1, 40000) i",
            "54000",
        ),
        ("SELECT repeat('[', 100000)::jsonb", "54001"),  # stack depth limit exceeded
    ],
)
def test_a_server_error_is_not_reported_as_a_connection_failure(
    pg_url: str, sql: str, sqlstate: str
) -> None:
    db = PgConnections(pg_url, pool_size=1, connect_timeout=5)
    db.open()
    try:
        with pytest.raises(StoreServerError) as raised:
            db.drive(_query(sql))
        assert raised.value.sqlstate == sqlstate
        assert raised.value.server_message in str(raised.value)
        assert "Cannot connect" not in str(raised.value)
        assert db.drive(_query("SELECT 1")) == [(1,)]  # the pool still works
    finally:
        db.close()


def test_a_value_of_over_a_megabyte_of_distinct_words_is_stored_and_found(
    make_store: Any,
) -> None:
    store = make_store(index=False)  # keywords only
    words = [f"w{i:06d}" for i in range(130_000)]  # ~1.4 MB as a tsvector
    value = {"content": " ".join(words)}
    store.put(NS, "huge", value)
    store.put(NS, "small", {"content": "w000001 and tea"})
    item = store.get(NS, "huge")
    assert item is not None
    assert item.value == value  # stored whole; only the keyword text is capped
    found = [i.key for i in store.recall(NS, query="w000002", mode="keyword")]
    assert found == ["huge"]


def test_a_query_of_twenty_thousand_words_is_answered(make_store: Any) -> None:
    store = make_store(index=INDEX)
    store.put(NS, "tea", {"content": "User drinks green tea"})
    query = "green tea " + " ".join(f"t{i}" for i in range(20_000))
    assert [i.key for i in store.recall(NS, query=query, mode="hybrid")] == ["tea"]
    assert [i.key for i in store.recall(NS, query=query, mode="keyword")] in ([], ["tea"])
    assert [i.key for i in store.search(NS, query=query)] == ["tea"]


def _terminate_others(pg_server: PgServer, database: str) -> int:
    rows = pg_server.sql(
        database,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid()",
    )
    return int(rows[0][0])


def test_connections_broken_by_the_server_are_replaced(
    pg_server: PgServer, pg_database: str, pg_store: PostgresStore
) -> None:
    async def use(n: int) -> None:
        await asyncio.gather(*(pg_store.aput(NS, f"a{n}{i}", {"content": "x"}) for i in range(3)))
        assert await pg_store.aget(NS, f"a{n}0") is not None

    async def scenario() -> None:
        await use(0)  # idle async connections of this loop
        assert _terminate_others(pg_server, pg_database) >= 1
        for n in range(1, 5):  # more calls than the pool has connections
            await use(n)

    pg_store.put(NS, "k", {"content": "before"})
    asyncio.run(scenario())
    assert _terminate_others(pg_server, pg_database) >= 1  # the sync pool's connections
    for i in range(5):
        pg_store.put(NS, f"k{i}", {"content": "after"})
        assert pg_store.get(NS, "k") is not None


def test_a_write_behind_another_clients_row_lock_times_out(pg_url: str) -> None:
    store = PostgresStore(pg_url, index=False, lock_timeout=0.2)
    other = psycopg.connect(pg_url)
    try:
        store.put(NS, "k", {"content": "v1"})
        other.execute("SELECT 1 FROM retain_items WHERE key = 'k' FOR UPDATE")  # holds it
        with pytest.raises(StoreLockedError, match="lock_timeout"):
            store.put(NS, "k", {"content": "v2"})
        other.rollback()
        store.put(NS, "k", {"content": "v3"})
        item = store.get(NS, "k")
        assert item is not None
        assert item.value == {"content": "v3"}
    finally:
        other.close()
        store.close()


def test_a_statement_past_the_statement_timeout_is_a_typed_error(pg_url: str) -> None:
    db = PgConnections(pg_url, pool_size=1, connect_timeout=5, statement_timeout=0.1)
    db.open()
    try:
        with pytest.raises(StoreTimeoutError, match="statement_timeout"):
            db.drive(_query("SELECT pg_sleep(5)"))

        async def run() -> None:
            with pytest.raises(StoreTimeoutError, match="statement_timeout"):
                await db.adrive(_query("SELECT pg_sleep(5)"))
            await db.aclose()

        asyncio.run(run())
    finally:
        db.close()


def test_a_pool_whose_connections_stay_busy_is_a_timeout_not_a_dead_server(pg_url: str) -> None:
    db = PgConnections(pg_url, pool_size=1, connect_timeout=0.4)  # waits 1.2 s for a slot
    db.open()
    try:
        with db._pool.connection(), pytest.raises(StoreTimeoutError, match="all 1 were busy"):
            db.drive(_query("SELECT 1"))  # the only connection is held

        async def run() -> None:
            async with db._apool().connection():
                with pytest.raises(StoreTimeoutError, match="this event loop"):
                    await db.adrive(_query("SELECT 1"))
            await db.aclose()

        asyncio.run(run())
    finally:
        db.close()


@pytest.mark.parametrize("timeout", [0, -1, math.nan, "30"])
def test_bad_timeouts_are_configuration_errors(pg_url: str, timeout: Any) -> None:
    with pytest.raises(ConfigurationError):
        PostgresStore(pg_url, index=False, lock_timeout=timeout)
    with pytest.raises(ConfigurationError):
        PostgresStore(pg_url, index=False, statement_timeout=timeout)


@pytest.mark.parametrize(
    "conninfo",
    [
        "postgresql://alice:s3cret-pw@127.0.0.1:1/memories",
        "postgresql://alice@127.0.0.1:1/memories?password=s3cret-pw&sslmode=disable",
        "host=127.0.0.1 port=1 dbname=memories user=alice password=s3cret-pw",
        "host=127.0.0.1 port=1 dbname=memories password = 's3cret-pw x' user=alice",
    ],
)
def test_no_password_form_reaches_errors_or_repr(conninfo: str) -> None:
    assert "s3cret-pw" not in redact(conninfo)
    assert "127.0.0.1" in redact(conninfo)
    with pytest.raises(StoreUnavailableError) as raised:
        PostgresStore(conninfo, index=False, connect_timeout=1)
    assert "s3cret-pw" not in str(raised.value)
    assert "s3cret" not in repr(raised.value)


def test_a_working_store_opened_with_a_password_does_not_show_it(pg_url: str) -> None:
    params = conninfo_to_dict(pg_url)
    for conninfo in (
        pg_url + ("&" if "?" in pg_url else "?") + "password=s3cret-pw",
        make_conninfo("", **{**params, "password": "s3cret-pw"}),
    ):
        store = PostgresStore(conninfo, index=False)
        try:
            assert "s3cret" not in repr(store)
            store.put(NS, "k", {"content": "x"})
        finally:
            store.close()


@pytest.mark.parametrize("conninfo", ["not a url", "localhost:5432/db", "", "mysql://u:pw@h/db"])
def test_a_string_that_is_not_a_connection_string_is_a_configuration_error(
    conninfo: str,
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        PostgresStore(conninfo)
    assert "pw@" not in str(raised.value)


def _zero_or_axis(texts: list[str]) -> list[list[float]]:
    """A 4-dim embedding: the zero vector for texts saying "zero", an axis otherwise."""
    return [[0.0] * 4 if "zero" in t else [1.0, 0.0, 0.0, 0.0] for t in texts]


def test_a_zero_vector_scores_zero_not_nan(make_store: Any) -> None:
    store = make_store(index={"dims": 4, "embed": _zero_or_axis})
    store.put(NS, "zero", {"content": "zero"})
    store.put(NS, "one", {"content": "one"})
    for query in ("zero", "one"):  # a zero query vector, then a zero stored vector
        found = {i.key: i.score for i in store.search(NS, query=query)}
        assert set(found) == {"zero", "one"}
        for mode in ("hybrid", "vector", "keyword"):
            found |= {f"{mode}:{i.key}": i.score for i in store.recall(NS, query=query, mode=mode)}
        assert all(s is not None and not math.isnan(s) for s in found.values()), found
        assert found["vector:zero"] == 0.0  # vector mode reports the cosine itself


def test_the_service_answers_a_store_timeout_with_retry_later() -> None:
    from retain.server.errors import status_of

    status, hint = status_of(StoreTimeoutError("all connections busy"))
    assert status == 503
    assert "retry" in hint
