"""SQLiteStore's async methods run on the store's own thread, in call order."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from pathlib import Path

from retain.stores import SQLiteStore

_SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


def test_async_calls_run_in_order_on_one_thread_of_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db", index=False)
    threads: set[str] = set()
    ns = ("users", "u1")

    def seen_thread(value: str) -> str:
        threads.add(threading.current_thread().name)
        return value

    async def main() -> list[object]:
        # puts and reads interleaved: each read sees exactly the puts submitted before it
        calls = []
        for i in range(20):
            calls.append(store.aput(ns, f"k{i}", {"n": i}))
            calls.append(store.asearch(ns, limit=100))
            calls.append(store._in_thread(seen_thread, i))
        return await asyncio.gather(*calls)

    results = asyncio.run(main())
    counts = [len(r) for r in results[1::3]]  # type: ignore[arg-type]
    assert counts == list(range(1, 21))
    assert results[2::3] == list(range(20))
    assert len(threads) == 1
    assert next(iter(threads)).startswith("retain-sqlite")
    store.close()


def test_context_variables_reach_the_store_thread_and_close_ends_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db", index=False)

    async def main() -> str:
        _SEEN.set("the caller's")
        value: str = await store._in_thread(_SEEN.get)
        return value

    assert asyncio.run(main()) == "the caller's"
    worker = store._worker
    assert worker is not None
    store.close()
    assert store._worker is None
    assert worker._shutdown  # the thread is let go; a new store gets its own
    # a queued call that closes the store does not deadlock
    other = SQLiteStore(tmp_path / "n.db", index=False)
    asyncio.run(other._in_thread(other.close))
    assert other._worker is None


def test_keyword_counts_follow_writes_namespace_by_namespace(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db", index=False)
    a, b = ("users", "a"), ("users", "b")
    store.put(a, "1", {"text": "tea in the morning"})
    store.put(b, "1", {"text": "tea and coffee"})
    assert store._keyword_stats(a, ["tea"]) == (1, {"tea": 1})
    assert store._keyword_stats(("users",), ["tea"]) == (2, {"tea": 2})
    assert store._keyword_stats(b, ["coffee"]) == (1, {"coffee": 1})
    store.put(b, "2", {"text": "more tea"})
    assert a in store._stats
    assert b not in store._stats
    assert ("users",) not in store._stats
    assert store._keyword_stats(b, ["tea"]) == (2, {"tea": 2})
    assert store._keyword_stats(("users",), ["tea"]) == (3, {"tea": 3})
    store.delete(a, "1")
    assert store._keyword_stats(a, ["tea"]) == (0, {"tea": 0})
    # another connection's write drops every count
    other = SQLiteStore(tmp_path / "m.db", index=False)
    other.put(b, "3", {"text": "tea again"})
    assert store._keyword_stats(b, ["tea"]) == (3, {"tea": 3})
    other.close()
    store.close()
