"""The crash test: 1,000 queued conversations, workers killed with SIGKILL part-way, a
restart; every job takes effect exactly once (real processes; one real SQLite file, and
the session's real PostgreSQL with three worker processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from retain.executor import debounce_key
from retain.queue import PostgresQueue, SQLiteQueue
from retain.stores import PostgresStore, RetainStore, SQLiteStore

WORKER = Path(__file__).with_name("crash_worker.py")
JOBS = 1000
USERS = 10


def start_worker(db: Path | str, lease: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(lease)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def enqueue_conversations(queue: SQLiteQueue | PostgresQueue) -> None:
    for n in range(JOBS):
        user, thread = f"u{n % USERS}", f"t{n}"
        queue.enqueue(
            {"messages": [["user", f"conv-{n}: I like item {n}"]]},
            config={"configurable": {"user_id": user, "thread_id": thread}},
            key=debounce_key(("memories", user), thread, None),
            idempotency_key=f"conv-{n}",
        )
    assert queue.counts()["queued"] == JOBS


def wait_for_done(
    queue: SQLiteQueue | PostgresQueue, at_least: int, workers: list[subprocess.Popen[str]]
) -> None:
    give_up = time.monotonic() + 180
    while queue.counts()["done"] < at_least:
        for worker in workers:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        assert time.monotonic() < give_up, "the workers made no progress"
        time.sleep(0.02)


def kill_9(worker: subprocess.Popen[str]) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate()
    assert worker.returncode == -signal.SIGKILL


def check_exactly_once(queue: SQLiteQueue | PostgresQueue, store: RetainStore) -> None:
    """Every job done, one memory per conversation, each written once by its own job."""
    counts = queue.counts()
    assert counts["done"] == JOBS, counts
    assert counts["queued"] == counts["running"] == counts["dead"] == 0
    seen: Counter[str] = Counter()
    job_ids: set[int] = set()
    versions = 0
    for u in range(USERS):
        items = store.search(("memories", f"u{u}"), limit=JOBS)
        assert len(items) == JOBS // USERS
        for item in items:
            seen[item.value["content"]["content"]] += 1
            history = store.history(("memories", f"u{u}"), item.key)
            assert len(history) == 1  # written once, never rewritten by a second run
            versions += len(history)
            job_ids.add(history[0].provenance["job_id"])
    assert seen == Counter({f"User likes item {n}": 1 for n in range(JOBS)})
    assert versions == JOBS
    assert len(job_ids) == JOBS  # one write per job


@pytest.mark.slow
def test_kill_9_midway_then_restart_applies_every_job_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    queue = SQLiteQueue(db)
    enqueue_conversations(queue)

    worker = start_worker(db, lease=2.0)
    wait_for_done(queue, JOBS // 3, [worker])
    kill_9(worker)
    at_kill = queue.counts()
    assert JOBS // 3 <= at_kill["done"] < JOBS  # killed part-way

    # Restart: two workers share the file; the killed worker's leased job comes back
    # when its lease runs out (or is marked done if its writes had committed).
    restarted = [start_worker(db, lease=2.0) for _ in range(2)]
    for proc in restarted:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    check_exactly_once(queue, SQLiteStore(db))


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_three_workers_killed_then_restarted_apply_every_job_once(
    pg_url: str,
) -> None:
    queue = PostgresQueue(pg_url)
    enqueue_conversations(queue)
    workers = [start_worker(pg_url, lease=2.0) for _ in range(3)]
    wait_for_done(queue, JOBS // 4, workers)
    kill_9(workers[0])  # one of three dies; the other two carry on, then die too
    wait_for_done(queue, JOBS // 2, workers[1:])
    for worker in workers[1:]:
        kill_9(worker)
    at_kill = queue.counts()
    assert JOBS // 2 <= at_kill["done"] < JOBS, at_kill  # killed part-way

    # Restart three workers: the killed workers' leased jobs come back when their leases
    # run out (or are marked done, when their writes had committed before the kill).
    restarted = [start_worker(pg_url, lease=2.0) for _ in range(3)]
    for proc in restarted:
        _out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    store = PostgresStore(pg_url)
    check_exactly_once(queue, store)
    store.close()
    queue.close()
