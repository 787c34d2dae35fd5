"""PostgresStore's own mechanics: concurrency (8 threads, 8 asyncio tasks), transactions
(a failing or killed batch leaves nothing), purge checked on every table, bad input and
unreachable servers as typed errors, migrations run by several openers at once, the
optional ANN index keeping one-namespace search exact, and the optional dependency."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from langgraph.store.base import PutOp

from retain import MissingDependencyError
from retain.errors import (
    ConfigurationError,
    EmbeddingDimensionError,
    InvalidNamespaceError,
    InvalidValueError,
    StoreError,
    StoreUnavailableError,
)
from retain.stores import PostgresStore, RetainStore, open_store
from retain.stores.pg_schema import PG_MIGRATIONS
from tests.pg_server import PgServer
from tests.stateful.conftest import INDEX, bag_of_words

NS = ("memories", "alice")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url, index=INDEX)
    yield store
    store.close()


def test_eight_threads_write_concurrently_without_losing_writes(
    pg_store: PostgresStore,
) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(25):
                pg_store.put(("users", f"w{worker}"), f"k{i}", {"content": f"w{worker} item {i}"})
                # every worker also rewrites one shared item: row locks, version numbers
                pg_store.put(("shared",), "counter", {"content": f"w{worker} {i}"})
            pg_store.batch(
                [PutOp(("users", f"w{worker}"), f"b{i}", {"content": "batched"}) for i in range(20)]
            )
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(pg_store.search(("users",), limit=10_000)) == 8 * 45
    versions = pg_store.history(("shared",), "counter")
    assert [v.version for v in versions] == list(range(1, 8 * 25 + 1))


def test_eight_asyncio_tasks_write_concurrently_without_losing_writes(
    pg_store: PostgresStore,
) -> None:
    async def writer(worker: int) -> None:
        for i in range(25):
            await pg_store.aput(("users", f"w{worker}"), f"k{i}", {"content": f"item {i}"})
            await pg_store.aput(("shared",), "counter", {"content": f"w{worker} {i}"})

    async def run() -> None:
        await asyncio.gather(*(writer(w) for w in range(8)))
        found = await pg_store.asearch(("users",), limit=10_000)
        assert len(found) == 8 * 25
        versions = await pg_store.ahistory(("shared",), "counter")
        assert [v.version for v in versions] == list(range(1, 8 * 25 + 1))
        await pg_store.aclose()

    asyncio.run(run())
    with pytest.raises(StoreError, match="closed"):
        pg_store.get(NS, "k")


def test_async_calls_leave_no_task_behind_and_work_on_a_later_loop(
    pg_store: PostgresStore,
) -> None:
    """A loop may end while the store is open (``asyncio.run`` in a script): nothing of the
    store may still run on it, or ``asyncio.run`` has tasks to cancel at exit (a lost
    cancellation there once hung a test run)."""

    async def use(n: int) -> set[asyncio.Task[object]]:
        await asyncio.gather(*(pg_store.aput(NS, f"k{n}-{i}", {"content": "x"}) for i in range(6)))
        assert len(await pg_store.asearch(NS, limit=100)) == 6 * (n + 1)
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    for n in range(3):  # each run is a new event loop with the same store
        assert asyncio.run(use(n)) == set()
    assert len(pg_store.search(NS, limit=100)) == 18


def test_async_connections_are_bounded_by_the_pool_size(pg_url: str) -> None:
    store = PostgresStore(pg_url, index=INDEX, pool_size=2)

    async def run() -> int:
        sessions: set[int] = set()

        async def one(i: int) -> None:
            await store.aput(NS, f"p{i}", {"content": "x"})
            pool = store._db._apools[asyncio.get_running_loop()]
            sessions.update(c.info.backend_pid for c in pool._idle)

        await asyncio.gather(*(one(i) for i in range(20)))
        await store.aclose()
        return len(sessions)

    try:
        assert 1 <= asyncio.run(run()) <= 2
    finally:
        store.close()


def _fail_history_for(pg_server: PgServer, database: str, key: str, action: str) -> None:
    """A trigger that makes the batch's last statement (its history rows) fail or hang."""
    pg_server.sql(
        database,
        f"CREATE FUNCTION fail_for() RETURNS trigger AS $$ BEGIN IF NEW.key = '{key}' THEN "
        f"{action}; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    pg_server.sql(
        database,
        "CREATE TRIGGER fail_for BEFORE INSERT ON retain_history FOR EACH ROW "
        "EXECUTE FUNCTION fail_for()",
    )


def test_a_batch_failing_inside_the_database_leaves_nothing(
    pg_server: PgServer, pg_database: str, pg_store: PostgresStore
) -> None:
    pg_store.put(NS, "keep", {"content": "before"})
    pg_store.put(NS, "doomed", {"content": "to be deleted"})
    _fail_history_for(pg_server, pg_database, "boom", "RAISE EXCEPTION 'injected failure'")
    with pytest.raises(StoreError, match="injected failure"):
        pg_store.batch(
            [
                PutOp(NS, "doomed", None),  # runs first (a delete)
                PutOp(NS, "keep", {"content": "changed"}),  # then the upserts, vectors
                PutOp(NS, "boom", {"content": "fails at the history insert"}),
            ]
        )
    assert pg_store.get(NS, "keep").value == {"content": "before"}  # type: ignore[union-attr]
    assert pg_store.get(NS, "doomed") is not None
    assert pg_store.get(NS, "boom") is None
    assert len(pg_store.history(NS, "keep")) == 1
    counts = pg_server.sql(
        pg_database,
        "SELECT (SELECT count(*) FROM retain_items), (SELECT count(*) FROM retain_vectors), "
        "(SELECT count(*) FROM retain_history)",
    )
    assert counts == [(2, 2, 2)]


@pytest.mark.slow
def test_a_process_killed_in_the_middle_of_a_batch_leaves_nothing(
    pg_server: PgServer, pg_database: str, pg_url: str
) -> None:
    PostgresStore(pg_url).close()  # create the schema
    _fail_history_for(pg_server, pg_database, "k99", "PERFORM pg_sleep(30)")
    script = textwrap.dedent(
        f"""
        from langgraph.store.base import PutOp
        from retain.stores import PostgresStore
        store = PostgresStore({pg_url!r})
        store.batch([PutOp(("users", "u1"), f"k{{i}}", {{"n": i}}) for i in range(100)])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the batch hangs in the database
            busy = pg_server.sql(
                pg_database,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO "
                "retain_history%%' AND state = 'active'",
            )
            if busy[0][0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the batch never reached the history insert")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # the server ends the dead client's transaction; nothing of it may remain
        pg_server.sql(
            pg_database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid()",
        )
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = pg_server.sql(
        pg_database,
        "SELECT (SELECT count(*) FROM retain_items), (SELECT count(*) FROM retain_history)",
    )
    assert rows == [(0, 0)]


def test_purge_leaves_no_trace_of_the_user_in_any_table(
    pg_server: PgServer, pg_database: str, pg_store: PostgresStore
) -> None:
    for i in range(4):
        pg_store.put(("users", "u1"), f"k{i}", {"content": f"zebra secret {i}"})
        pg_store.put(("users", "u1", "notes"), f"n{i}", {"content": f"zebra note {i}"})
        pg_store.put(("users", "u2"), f"k{i}", {"content": f"okapi fact {i}"})
    pg_store.put(("users", "u1"), "k0", {"content": "zebra secret, updated"})
    pg_store.delete(("users", "u1"), "k1")
    assert pg_store.purge(("users", "u1")) == 7
    tables = [
        r[0]
        for r in pg_server.sql(
            pg_database,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        )
    ]
    assert {"retain_items", "retain_vectors", "retain_history", "retain_meta"} <= set(tables)
    for table in tables:  # every column of every row, as text (tsvector included)
        hits = pg_server.sql(
            pg_database,
            f"SELECT count(*) FROM {table} t WHERE t::text LIKE '%%zebra%%' OR "
            "t::text LIKE '%%users.u1%%'",
        )
        assert hits == [(0,)], table
    assert pg_server.sql(pg_database, "SELECT count(*) FROM retain_items") == [(4,)]


def test_an_unreachable_url_says_what_to_do() -> None:
    url = "postgresql://alice:s3cret@127.0.0.1:1/memories"
    with pytest.raises(StoreUnavailableError) as info:
        PostgresStore(url, connect_timeout=2)
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "Check that the server is running" in message
    assert "s3cret" not in message
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(StoreUnavailableError):
        open_store("postgresql://postgres@/nowhere?host=/nonexistent-socket-dir")


def test_a_missing_database_is_a_typed_error(pg_server: PgServer) -> None:
    with pytest.raises(StoreUnavailableError, match="no_such_db"):
        PostgresStore(pg_server.url("no_such_db"))


def test_open_store_gives_a_postgres_store(pg_url: str) -> None:
    store = open_store(pg_url, index=INDEX)
    assert isinstance(store, PostgresStore)
    assert isinstance(store, RetainStore)
    store.put(NS, "k", {"content": "via open_store"})
    assert store.search(NS, query="open_store")[0].key == "k"
    store.close()


def test_several_openers_migrate_once(pg_server: PgServer, pg_database: str, pg_url: str) -> None:
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            PostgresStore(pg_url, index=INDEX, ann_index=True).close()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = pg_server.sql(pg_database, "SELECT version, name FROM retain_migrations")
    assert sorted(r[0] for r in rows) == [m.version for m in PG_MIGRATIONS]


def test_the_keyword_index_has_no_pending_list(
    pg_server: PgServer, pg_database: str, pg_url: str
) -> None:
    """GIN's fast update leaves new rows in a pending list that every keyword search reads
    until VACUUM merges it (a 10k namespace's keyword search took 5 ms instead of 1.5, and
    the planner, pricing the list, scanned the table): writes update the index directly."""
    PostgresStore(pg_url, index=INDEX).close()
    rows = pg_server.sql(
        pg_database, "SELECT reloptions FROM pg_class WHERE relname = 'retain_items_body'"
    )
    assert rows[0][0] is not None
    assert "fastupdate=off" in rows[0][0]


def test_keywords_use_the_text_search_configuration_the_database_recorded(
    pg_server: PgServer, pg_database: str, pg_url: str
) -> None:
    """A new database indexes keywords with retain_porter and records it; a database whose
    keywords were indexed before any was recorded keeps ``english`` (retain's earlier
    default); opening with another configuration, or one PostgreSQL lacks, is refused."""
    store = PostgresStore(pg_url, index=False, text_search_config="english")
    store.put(NS, "k", {"content": "She gave generously"})
    store.close()
    pg_server.sql(pg_database, "DELETE FROM retain_meta WHERE name = 'text_search_config'")
    reopened = PostgresStore(pg_url, index=False)  # an older database: keywords, no record
    assert reopened.text_search_config == "english"
    assert [i.key for i in reopened.recall(NS, query="generous", mode="keyword")] == ["k"]
    reopened.close()
    with pytest.raises(ConfigurationError, match="'english'"):
        PostgresStore(pg_url, index=False, text_search_config="simple")
    with pytest.raises(ConfigurationError, match="no text search configuration"):
        PostgresStore(pg_url, index=False, text_search_config="klingon")
    pg_server.sql(pg_database, "DELETE FROM retain_items")
    pg_server.sql(pg_database, "DELETE FROM retain_meta WHERE name = 'text_search_config'")
    fresh = PostgresStore(pg_url, index=False)  # no keywords yet: the Porter configuration
    assert fresh.text_search_config == "retain_porter"
    fresh.close()
    assert PostgresStore(pg_url, index=False).text_search_config == "retain_porter"


def test_the_ann_index_keeps_one_namespace_search_exact(
    pg_server: PgServer, pg_database: str, pg_url: str
) -> None:
    rng = np.random.default_rng(7)
    vectors = {
        (f"u{n}", f"k{i}"): rng.standard_normal(32).astype(np.float32)
        for n in range(30)
        for i in range(40)
    }
    lookup = {f"{n}/{k}": v for (n, k), v in vectors.items()}

    def embed(texts: list[str]) -> list[list[float]]:
        return [lookup[t].tolist() if t in lookup else [1.0] * 32 for t in texts]

    store = PostgresStore(
        pg_url,
        index={"embed": embed, "dims": 32, "fields": ["id"]},
        ann_index=True,
        ann_threshold=100,
    )
    store.batch([PutOp(("users", n), k, {"id": f"{n}/{k}"}) for (n, k) in vectors])
    indexes = pg_server.sql(pg_database, "SELECT indexname FROM pg_indexes")
    assert ("retain_vectors_hnsw_32",) in indexes
    for n in ("u0", "u13", "u29"):
        query_id = f"u{(int(n[1:]) + 1) % 30}/k3"  # a vector from another namespace
        found = store.recall(("users", n), query=query_id, limit=10, mode="vector")
        q = lookup[query_id] / np.linalg.norm(lookup[query_id])
        exact = sorted(
            (k for (m, k) in vectors if m == n),
            key=lambda k: -float(vectors[(n, k)] @ q / np.linalg.norm(vectors[(n, k)])),
        )[:10]
        assert [i.key for i in found] == exact  # recall@10 = 1.0, same order
    wide = store.recall(("users",), query="u5/k5", limit=10, mode="vector")  # HNSW
    assert wide[0].key == "k5"
    assert wide[0].namespace == ("users", "u5")
    store.close()


def test_the_optional_dependency_is_named_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "retain.stores.postgres")
    with pytest.raises(MissingDependencyError, match=r"pip install 'retain\[postgres\]'"):
        importlib.import_module("retain.stores.postgres")
    monkeypatch.undo()
    importlib.import_module("retain.stores.postgres")


@pytest.mark.parametrize("namespace", [("",), ("a.b",), ("ok", ""), ()])
def test_invalid_namespaces_in_a_batch_are_typed_errors(
    pg_store: PostgresStore, namespace: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidNamespaceError):
        pg_store.batch([PutOp(NS, "fine", {"v": 1}), PutOp(namespace, "k", {"v": 1})])
    assert pg_store.get(NS, "fine") is None


@pytest.mark.parametrize(
    "value", [{"v": object()}, {"v": float("nan")}, {"v": {1, 2}}, ["not", "a", "dict"]]
)
def test_values_that_are_not_json_objects_are_typed_errors(
    pg_store: PostgresStore, value: object
) -> None:
    with pytest.raises(InvalidValueError):
        pg_store.put(NS, "k", value)  # type: ignore[arg-type]
    assert pg_store.get(NS, "k") is None
    assert pg_store.history(NS, "k") == []


def test_a_model_with_the_wrong_dimension_is_a_typed_error(pg_url: str) -> None:
    broken = {"on": False}

    def embed(texts: list[str]) -> list[list[float]]:  # one model, that starts failing
        vectors = bag_of_words(texts)
        return [v[:32] for v in vectors] if broken["on"] else vectors

    store = PostgresStore(pg_url, index={"embed": embed, "dims": 64})
    store.put(NS, "keep", {"content": "cherry tart"})
    broken["on"] = True
    with pytest.raises(EmbeddingDimensionError, match="64"):
        store.batch(
            [PutOp(NS, "keep", {"content": "changed"}), PutOp(NS, "k", {"content": "cherry pie"})]
        )
    assert store.get(NS, "k") is None
    assert store.get(NS, "keep").value == {"content": "cherry tart"}  # type: ignore[union-attr]
    assert store.history(NS, "k") == []
    assert len(store.history(NS, "keep")) == 1
    with pytest.raises(EmbeddingDimensionError, match="64"):  # a query vector too
        store.search(NS, query="cherry")
    broken["on"] = False
    assert store.search(NS, query="cherry tart")[0].key == "keep"
    store.close()
