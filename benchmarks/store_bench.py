"""Store benchmark: retain's SQLiteStore vs LangGraph's InMemoryStore, same data, same run.

384-d vectors, 100 namespaces (``("bench", "ns0")`` ... ``("bench", "ns99")``). The embedding
"model" is a deterministic callable that looks precomputed random vectors up by the number
in the text, so the model itself is not measured. Measured per store and size:

* put: items/s with batched puts (``batch`` of 1,000 ``PutOp``s), vectors included;
* get: p50/p95 ms;
* search in one namespace, across the whole prefix, and filtered in one namespace
  (limit 10): p50/p95 ms and recall@10 against exact numpy brute force;
* retain only: the first search after opening the file (loads the vector cache), and a
  search right after another connection wrote (cross-process reload).

Baselines: LangGraph's InMemoryStore; LangGraph's SqliteStore is reported unavailable when
it cannot load its vector extension (Python builds without ``enable_load_extension``).

Run:  flock /tmp/retain-heavy.lock .venv/bin/python benchmarks/store_bench.py
      [--sizes 1000 10000 100000] [--queries 200] [--baseline-all-queries 5]
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.store.base import BaseStore, PutOp
from langgraph.store.memory import InMemoryStore

from retain.stores import SQLiteStore

DIMS = 384
NAMESPACES = 100
PREFIX = ("bench",)
BATCH = 1000


class Data:
    """Item and query vectors (normalised float32), and the embed callable over them."""

    def __init__(self, n: int, queries: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.items = _normalised(rng.standard_normal((n, DIMS), dtype=np.float32))
        self.queries = _normalised(rng.standard_normal((queries, DIMS), dtype=np.float32))
        self.n = n

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            kind, number = text.split()
            table = self.items if kind == "item" else self.queries
            out.append(table[int(number)])
        return out  # numpy rows: both stores accept sequences of floats

    def value(self, i: int) -> dict[str, Any]:
        return {"content": f"item {i}", "group": i % 4}

    @staticmethod
    def namespace(i: int) -> tuple[str, ...]:
        return ("bench", f"ns{i % NAMESPACES}")

    def exact(self, query: int, ids: np.ndarray, k: int = 10) -> set[str]:
        scores = self.items[ids] @ self.queries[query]
        best = ids[np.argsort(-scores, kind="stable")[:k]]
        return {f"k{i}" for i in best}


def _normalised(m: np.ndarray) -> np.ndarray:
    out: np.ndarray = m / np.linalg.norm(m, axis=1, keepdims=True)
    return out.astype(np.float32)


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def run_store(
    name: str, store: BaseStore, data: Data, queries: int, all_queries: int, seed: int = 1
) -> dict[str, Any]:
    rnd = random.Random(seed)
    index_of = {f"k{i}": i for i in range(data.n)}
    by_ns = [np.arange(ns, data.n, NAMESPACES) for ns in range(NAMESPACES)]
    res: dict[str, Any] = {"store": name, "n": data.n}

    def put_all() -> None:
        for start in range(0, data.n, BATCH):
            store.batch(
                [
                    PutOp(data.namespace(i), f"k{i}", data.value(i))
                    for i in range(start, min(data.n, start + BATCH))
                ]
            )

    elapsed, _ = _timed(put_all)
    res["put_per_s"] = data.n / elapsed

    samples = []
    for _ in range(500):
        i = rnd.randrange(data.n)
        t, item = _timed(partial(store.get, data.namespace(i), f"k{i}"))
        assert item is not None
        assert item.value["content"] == f"item {i}"
        samples.append(t)
    res["get"] = _ms(samples)

    def search(kind: str, count: int) -> None:
        samples, hits, total = [], 0, 0
        for _ in range(count):
            q = rnd.randrange(len(data.queries))
            ns = rnd.randrange(NAMESPACES)
            if kind == "one":
                args: dict[str, Any] = {"query": f"query {q}", "limit": 10}
                prefix: tuple[str, ...] = ("bench", f"ns{ns}")
                ids = by_ns[ns]
            elif kind == "all":
                args = {"query": f"query {q}", "limit": 10}
                prefix, ids = PREFIX, np.arange(data.n)
            else:
                args = {"query": f"query {q}", "limit": 10, "filter": {"group": 1}}
                prefix = ("bench", f"ns{ns}")
                ids = by_ns[ns][by_ns[ns] % 4 == 1]
            t, found = _timed(partial(store.search, prefix, **args))
            samples.append(t)
            want = data.exact(q, ids)
            got = {r.key for r in found}
            if kind != "all":  # results stay inside the namespace and the filter
                inside = set(ids.tolist())
                assert all(index_of[k] in inside for k in got), (name, kind)
            hits += len(got & want)
            total += len(want)
        res[f"search_{kind}"] = _ms(samples)
        res[f"recall_{kind}"] = hits / total if total else 1.0

    search("one", queries)
    search("all", all_queries)
    search("filtered", queries)
    return res


def run_retain(data: Data, queries: int, folder: Path) -> dict[str, Any]:
    path = folder / f"retain-{data.n}.db"
    index = {"dims": DIMS, "embed": data.embed, "fields": ["content"]}
    store = SQLiteStore(path, index=index)
    res = run_store("retain SQLiteStore", store, data, queries, queries)
    store.close()
    reopened = SQLiteStore(path, index=index)
    t, _ = _timed(lambda: reopened.search(("bench", "ns0"), query="query 0", limit=10))
    res["cold_first_search_ms"] = t * 1000
    other = sqlite3.connect(path)  # another connection writes: the cache must reload
    other.execute("UPDATE items SET updated_at = updated_at + 0.001 WHERE id = 1")
    other.commit()
    other.close()
    t, _ = _timed(lambda: reopened.search(("bench", "ns0"), query="query 1", limit=10))
    res["reload_after_foreign_write_ms"] = t * 1000
    reopened.close()
    return res


def langgraph_sqlite_status() -> str:
    try:
        from langgraph.store.sqlite import SqliteStore  # type: ignore[import-not-found]
    except ImportError:
        reason = "langgraph-checkpoint-sqlite is not installed"
    else:
        del SqliteStore
        reason = "installed"
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        return (
            f"unavailable: {reason}, and this Python's sqlite3 has no enable_load_extension, "
            "so its sqlite-vec vector search cannot load"
        )
    return reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--baseline-all-queries",
        type=int,
        default=5,
        help="cross-namespace queries for InMemoryStore (seconds each at 100k)",
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            data = Data(n, max(args.queries, 1))
            retain = run_retain(data, args.queries, Path(tmp))
            gc.collect()
            memory = InMemoryStore(
                index={"dims": DIMS, "embed": data.embed, "fields": ["content"]}  # type: ignore[arg-type]
            )
            base = run_store(
                "LangGraph InMemoryStore", memory, data, args.queries, args.baseline_all_queries
            )
            del memory
            gc.collect()
            rows += [retain, base]
            _report(retain, base)
    print(f"\nLangGraph SqliteStore: {langgraph_sqlite_status()}")


def _report(r: dict[str, Any], b: dict[str, Any]) -> None:
    print(f"\n### {r['n']:,} items, {DIMS}-d, {NAMESPACES} namespaces")
    print("| metric | retain SQLiteStore | LangGraph InMemoryStore | retain / InMemory |")
    print("|---|---:|---:|---:|")
    print(
        f"| put, items/s (batches of {BATCH}) | {r['put_per_s']:,.0f} | {b['put_per_s']:,.0f} | "
        f"{r['put_per_s'] / b['put_per_s']:.2f}x throughput |"
    )
    for key, label in [
        ("get", "get"),
        ("search_one", "search 1 namespace"),
        ("search_all", "search all namespaces"),
        ("search_filtered", "filtered search 1 namespace"),
    ]:
        (rp50, rp95), (bp50, bp95) = r[key], b[key]
        print(
            f"| {label}, p50 / p95 ms | {rp50:.3f} / {rp95:.3f} | {bp50:.3f} / {bp95:.3f} | "
            f"{rp95 / bp95:.3f} (p95) |"
        )
    for kind in ("one", "all", "filtered"):
        print(f"| recall@10 {kind} | {r['recall_' + kind]:.3f} | {b['recall_' + kind]:.3f} | |")
    cold = r["cold_first_search_ms"]
    print(f"| first search after opening (loads vector cache), ms | {cold:.1f} | | |")
    print(
        "| search after another connection wrote (cache reload), ms | "
        f"{r['reload_after_foreign_write_ms']:.1f} | | |"
    )


if __name__ == "__main__":
    main()
