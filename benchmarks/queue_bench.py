"""Background executor and durable queue: what ``submit`` costs the caller, and jobs/s.

* Submit latency (p50/p95/p99, ms): ``ReflectionExecutor.submit`` in-memory and durable
  (one SQLite write per submit); baseline: ``concurrent.futures.ThreadPoolExecutor.submit``
  of a no-op, in the same run. Submissions use distinct threads and a 1-hour delay, so
  only the submit itself is timed.
* Throughput (jobs/s) of the durable SQLite queue with a zero-latency model: a store
  manager (``FakeChatModel`` inserting one memory) run by 1 and 3 ``QueueWorker``
  processes on one file; baseline: the same manager invoked directly in a loop (no
  queue), in the same run. Every run checks that each job wrote exactly one memory.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from retain import ReflectionExecutor, create_memory_store_manager
from retain.executor import debounce_key
from retain.queue import SQLiteQueue
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel, insert

WORKER = """
import re, sys, time
from retain import create_memory_store_manager
from retain.queue import QueueWorker, SQLiteQueue
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel, insert
store = SQLiteStore(sys.argv[1])
number = re.compile(r"conv-(\\d+)")
model = FakeChatModel(lambda c: [insert("User likes item " + number.findall(c.text)[-1])])
manager = create_memory_store_manager(model, namespace=("memories", "{user_id}"), store=store)
start = time.time()
QueueWorker(SQLiteQueue.for_store(store), manager, poll_interval=0.05).run(until_idle=True)
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


def submit_latency(n: int, tmp: Path) -> list[tuple[str, tuple[float, float, float]]]:
    rows = []
    pool = ThreadPoolExecutor(max_workers=1)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        pool.submit(lambda: None)
        samples.append((time.perf_counter() - t0) * 1000)
    pool.shutdown()
    rows.append(("ThreadPoolExecutor.submit (baseline)", percentiles(samples)))
    store = SQLiteStore(tmp / "latency.db")
    for label, kwargs in (
        ("ReflectionExecutor.submit, in-memory", {}),
        ("ReflectionExecutor.submit, durable SQLite", {"store": store, "durable": True}),
    ):
        executor = ReflectionExecutor(lambda p: None, **kwargs)  # type: ignore[arg-type]
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            executor.submit(payload(i), config(i), after_seconds=3600)
            samples.append((time.perf_counter() - t0) * 1000)
        executor.shutdown(cancel_futures=True)
        rows.append((label, percentiles(samples)))
    return rows


def direct_rate(jobs: int, tmp: Path) -> float:
    store = SQLiteStore(tmp / "direct.db")
    manager = create_memory_store_manager(
        FakeChatModel(remember), namespace=("memories", "{user_id}"), store=store
    )
    t0 = time.perf_counter()
    for n in range(jobs):
        manager.invoke(payload(n), config(n))
    return jobs / (time.perf_counter() - t0)


def queue_rate(jobs: int, workers: int, tmp: Path) -> float:
    db = tmp / f"queue-{workers}.db"
    queue = SQLiteQueue(db)
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
        subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    spans = []
    for p in procs:
        out, _ = p.communicate()
        assert p.returncode == 0
        spans.append(tuple(float(x) for x in out.split()))
    elapsed = max(e for _, e in spans) - min(s for s, _ in spans)  # start-up excluded
    assert queue.counts()["done"] == jobs, queue.counts()
    store = SQLiteStore(db)
    total = sum(len(store.search(("memories", f"u{u}"), limit=jobs)) for u in range(10))
    assert total == jobs, total
    return jobs / elapsed


def in_process_rate(jobs: int, tmp: Path) -> float:
    store = SQLiteStore(tmp / "inproc.db")
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
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--submits", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"Submit latency, ms ({args.submits} submits)")
        print("| call | p50 | p95 | p99 |\n|---|---:|---:|---:|")
        for label, (p50, p95, p99) in submit_latency(args.submits, tmp):
            print(f"| {label} | {p50:.3f} | {p95:.3f} | {p99:.3f} |")
        direct = direct_rate(args.jobs, tmp)
        print(f"\nThroughput, jobs/s ({args.jobs} jobs; process start-up excluded)")
        print("| runner | jobs/s | / direct |\n|---|---:|---:|")
        print(f"| manager.invoke in a loop, no queue (baseline) | {direct:.0f} | 1.00 |")
        inproc = in_process_rate(args.jobs, tmp)
        print(
            f"| durable ReflectionExecutor, 1 thread, in-process | {inproc:.0f} | "
            f"{inproc / direct:.2f} |"
        )
        for workers in (1, 3):
            rate = queue_rate(args.jobs, workers, tmp)
            print(
                f"| SQLite queue, {workers} worker process(es) | {rate:.0f} | {rate / direct:.2f} |"
            )


if __name__ == "__main__":
    main()
