"""retain-only features, on both of retain's stores (SQLite and PostgreSQL): hybrid recall,
weighting, history, provenance, purge, export, re-embedding, TTL, atomic batches, bad
input. Tests of one store's own mechanics live in test_sqlite_*.py / test_postgres_*.py."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from langgraph.func import entrypoint
from langgraph.store.base import PutOp

from retain import ConfigurationError, InvalidInputError
from retain.clock import ManualClock
from retain.stores import RetainStore, provenance
from tests.stateful.conftest import INDEX, bag_of_words
from tests.stores.conftest import StoreMaker

NS = ("memories", "alice")


def test_hybrid_recall_finds_keyword_matches_that_vectors_rank_low(
    make_store: StoreMaker,
) -> None:
    def sparse(texts: list[str]) -> list[list[float]]:  # a model blind to part numbers
        return bag_of_words([" ".join(w for w in t.split() if not w[0].isdigit()) for t in texts])

    store = make_store(index={"embed": sparse, "dims": 64})
    store.put(NS, "part", {"content": "Ordered part 8812-X for the printer"})
    for i in range(30):
        store.put(NS, f"f{i}", {"content": f"Ordered coffee for the printer room {i}"})
    vector_only = store.recall(NS, query="8812-X printer part", mode="vector", limit=3)
    hybrid = store.recall(NS, query="8812-X printer part", mode="hybrid", limit=3)
    keyword = store.recall(NS, query="8812-X", mode="keyword", limit=3)
    assert keyword[0].key == "part"
    assert hybrid[0].key == "part"
    assert all(isinstance(i.score, float) for i in hybrid)
    assert [i.score for i in hybrid] == sorted((i.score for i in hybrid), reverse=True)  # type: ignore[misc]
    assert vector_only[0].score is not None


def test_recency_and_importance_weighting(
    make_store: StoreMaker, retain_store: RetainStore
) -> None:
    retain_store.put(NS, "old", {"content": "User likes green tea", "importance": 0.1})
    make_store.make_older(retain_store, "old", days=365)
    retain_store.put(NS, "new", {"content": "User likes green tea a lot", "importance": 0.9})
    plain = retain_store.recall(NS, query="User likes green tea", mode="keyword")
    assert plain[0].key == "old"  # the closer wording wins on relevance alone
    recent = retain_store.recall(NS, query="User likes green tea", recency_weight=0.5)
    assert recent[0].key == "new"
    important = retain_store.recall(
        NS, query="User likes green tea", mode="keyword", importance_weight=0.5
    )
    assert important[0].key == "new"
    with pytest.raises(InvalidInputError):
        retain_store.recall(NS, query="tea", recency_weight=0.8, importance_weight=0.8)
    with pytest.raises(InvalidInputError):
        retain_store.recall(NS, query="tea", mode="fuzzy")  # type: ignore[arg-type]


def test_history_as_of_restore_and_provenance(make_store: StoreMaker) -> None:
    clock = ManualClock(start=datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp())
    retain_store = make_store(index=INDEX, clock=clock)
    with provenance(thread_id="t-1", run_id="r-1"):
        retain_store.put(NS, "k", {"content": "lives in Rotterdam"})
    t1 = datetime.fromtimestamp(clock.now(), timezone.utc)
    clock.advance(60)
    with provenance(thread_id="t-2"):
        retain_store.put(NS, "k", {"content": "lives in Utrecht"})
        retain_store.delete(NS, "k")
    versions = retain_store.history(NS, "k")
    assert [(v.version, v.op) for v in versions] == [(1, "put"), (2, "put"), (3, "delete")]
    assert versions[0].provenance == {"thread_id": "t-1", "run_id": "r-1"}
    assert versions[2].value is None
    assert versions[2].provenance == {"thread_id": "t-2"}
    as_of = retain_store.get_as_of(NS, "k", t1)
    assert as_of is not None
    assert as_of.value == {"content": "lives in Rotterdam"}
    assert retain_store.get_as_of(NS, "k", t1 + timedelta(seconds=61)) is None
    assert retain_store.get_as_of(NS, "k", t1 - timedelta(days=1)) is None
    restored = retain_store.restore(NS, "k", 1)
    assert restored.value == {"content": "lives in Rotterdam"}
    last = retain_store.history(NS, "k")[-1]
    assert (last.version, last.op, last.provenance) == (4, "put", {"restored_from": 1})
    with pytest.raises(InvalidInputError):
        retain_store.restore(NS, "k", 3)  # the deletion has no value


def test_purge_leaves_no_rows_anywhere(make_store: StoreMaker, retain_store: RetainStore) -> None:
    for i in range(5):
        retain_store.put(("users", "u1", "facts"), f"k{i}", {"content": f"u1 fact {i}"})
        retain_store.put(("users", "u1"), f"p{i}", {"content": f"u1 profile {i}"})
        retain_store.put(("users", "u10"), f"k{i}", {"content": f"other fact {i}"})
    retain_store.delete(("users", "u1", "facts"), "k0")
    before = make_store.rows_under(retain_store, "users.u1")
    assert all(n > 0 for t, n in before.items() if "orphaned" not in t), before
    assert retain_store.purge(("users", "u1")) == 9
    left = make_store.rows_under(retain_store, "users.u1")
    assert set(left.values()) == {0}, left
    other = make_store.rows_under(retain_store, "users.u10")
    assert [n for t, n in other.items() if "orphaned" not in t] == [5, 5, 5], other
    assert retain_store.recall(("users", "u1"), query="u1 fact", mode="keyword") == []
    assert retain_store.search(("users", "u1"), query="u1 fact") == []
    assert retain_store.history(("users", "u1", "facts"), "k0") == []
    with pytest.raises(InvalidInputError):
        retain_store.purge(())


def test_export_jsonl(retain_store: RetainStore, tmp_path: Path) -> None:
    with provenance(source="test"):
        retain_store.put(NS, "a", {"content": "one"})
        retain_store.put(NS, "a", {"content": "two"})
    retain_store.put(("memories", "bob"), "b", {"content": "bob's"})
    lines = retain_store.export_jsonl(  # type: ignore[attr-defined]
        ("memories", "alice"), tmp_path / "alice.jsonl"
    )
    records = [json.loads(line) for line in (tmp_path / "alice.jsonl").read_text().splitlines()]
    assert lines == 3
    assert [(r["type"], r["key"]) for r in records] == [
        ("item", "a"),
        ("version", "a"),
        ("version", "a"),
    ]
    assert records[0]["value"] == {"content": "two"}
    assert records[2]["provenance"] == {"source": "test"}


def test_changing_the_embedding_model_needs_reembed(make_store: StoreMaker) -> None:
    first = make_store(index=INDEX)
    first.put(NS, "pie", {"content": "User likes cherry pie"})
    first.close()
    at = first._test_location  # type: ignore[attr-defined]

    def other(texts: list[str]) -> list[list[float]]:
        return [list(reversed(v)) for v in bag_of_words(texts)]

    second = make_store(at=at, index={"embed": other, "dims": 64})
    with pytest.raises(ConfigurationError, match="reembed"):
        second.search(NS, query="pie")
    assert second.reembed() == 1
    assert second.search(NS, query="cherry pie")[0].key == "pie"
    second.close()
    third = make_store(at=at, index={"embed": other, "dims": 64})  # now recorded: no error
    assert third.search(NS, query="cherry pie")[0].key == "pie"


def test_a_failed_batch_writes_nothing(retain_store: RetainStore) -> None:
    retain_store.put(NS, "keep", {"content": "before"})
    with pytest.raises(TypeError):  # InvalidValueError on retain's stores, also a TypeError
        retain_store.batch(
            [
                PutOp(NS, "keep", {"content": "changed"}),
                PutOp(NS, "new", {"content": "would be new"}),
                PutOp(NS, "bad", {"content": object()}),  # not JSON: fails the batch
            ]
        )
    assert retain_store.get(NS, "keep").value == {"content": "before"}  # type: ignore[union-attr]
    assert retain_store.get(NS, "new") is None
    assert retain_store.get(NS, "bad") is None
    assert len(retain_store.history(NS, "keep")) == 1


def test_ttl_expiry_and_sweep(make_store: StoreMaker) -> None:
    clock = ManualClock(start=time.time())
    store = make_store(ttl={"default_ttl": 2}, clock=clock)  # 120 s
    store.put(NS, "short", {"content": "soon gone"})
    store.put(NS, "long", {"content": "stays"}, ttl=None)
    clock.advance(119)
    assert store.get(NS, "short", refresh_ttl=False) is not None
    clock.advance(2)
    assert store.get(NS, "short") is None
    assert [i.key for i in store.search(NS)] == ["long"]
    assert store.sweep_ttl() == 1  # type: ignore[attr-defined]


def test_plugs_into_a_langgraph_entrypoint(retain_store: RetainStore) -> None:
    from langgraph.config import get_store

    @entrypoint(store=retain_store)
    def remember(text: str) -> int:
        store = get_store()
        store.put(("notes",), "n", {"content": text})
        return len(store.search(("notes",), query=text))

    assert remember.invoke("hello store") == 1


def test_async_extensions(retain_store: RetainStore) -> None:
    async def run() -> None:
        await retain_store.aput(NS, "k", {"content": "async cherry pie"})
        found = await retain_store.arecall(NS, query="cherry pie")
        assert [i.key for i in found] == ["k"]
        assert [v.op for v in await retain_store.ahistory(NS, "k")] == ["put"]
        assert await retain_store.apurge(NS) == 1
        assert await retain_store.aget(NS, "k") is None
        aclose = getattr(retain_store, "aclose", None)
        if aclose is not None:  # close the async pool inside its loop (see tests/conftest.py)
            await aclose()

    asyncio.run(run())


def test_vector_search_skips_expired_items_and_still_fills_the_page(
    make_store: StoreMaker,
) -> None:
    clock = ManualClock(start=time.time())
    store = make_store(index=INDEX, clock=clock)
    for i in range(5):  # the nearest items expire
        store.put(NS, f"gone{i}", {"content": "cherry pie"}, ttl=1)
    store.put(NS, "live", {"content": "cherry pie with cream"}, ttl=None)
    clock.advance(61)
    assert [i.key for i in store.search(NS, query="cherry pie", limit=1)] == ["live"]


def _minutes_left(make_store: StoreMaker, store: RetainStore, key: str) -> float | None:
    """Minutes until ``key`` expires, read with SQL (None: no expiry)."""
    if make_store.kind == "sqlite":
        rows = make_store.sql(
            store, "SELECT expires_at - ? FROM retain_items WHERE key = ?", time.time(), key
        )
        return None if rows[0][0] is None else rows[0][0] / 60
    rows = make_store.sql(
        store,
        "SELECT extract(epoch FROM expires_at - now()) FROM retain_items WHERE key = %s",
        key,
    )
    return None if rows[0][0] is None else float(rows[0][0]) / 60


@pytest.mark.parametrize("read", ["get", "search", "filtered", "list"])
def test_reads_refresh_the_ttl_of_the_items_they_return(make_store: StoreMaker, read: str) -> None:
    store = make_store(index=INDEX, ttl={"default_ttl": 60, "refresh_on_read": True})
    store.put(NS, "a", {"content": "apple pie", "kind": "food"})
    store.put(NS, "b", {"content": "apple tart", "kind": "food"}, ttl=None)
    shorten = (
        "UPDATE retain_items SET expires_at = expires_at - 3000 WHERE key = 'a'"
        if make_store.kind == "sqlite"
        else "UPDATE retain_items SET expires_at = expires_at - interval '50 minutes' "
        "WHERE key = 'a'"
    )
    make_store.sql(store, shorten)
    assert (_minutes_left(make_store, store, "a") or 0) < 11
    if read == "get":
        assert store.get(NS, "a") is not None
        assert store.get(NS, "b") is not None
    elif read == "list":
        assert {i.key for i in store.search(NS)} == {"a", "b"}
    else:
        flt = {"kind": "food"} if read == "filtered" else None
        assert {i.key for i in store.search(NS, query="apple", filter=flt)} == {"a", "b"}
    assert (_minutes_left(make_store, store, "a") or 0) > 59  # refreshed to the full TTL
    assert _minutes_left(make_store, store, "b") is None  # no TTL: left without one
    make_store.sql(store, shorten)
    assert store.get(NS, "a", refresh_ttl=False) is not None
    assert (_minutes_left(make_store, store, "a") or 0) < 11  # not asked: not refreshed
