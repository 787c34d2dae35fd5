"""The crash test: 1,000 queued conversations, the worker killed with SIGKILL part-way,
a restart; every job takes effect exactly once (real processes, one real SQLite file)."""

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
from retain.queue import SQLiteQueue
from retain.stores import SQLiteStore

WORKER = Path(__file__).with_name("crash_worker.py")
JOBS = 1000
USERS = 10


def start_worker(db: Path, lease: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(lease)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_kill_9_midway_then_restart_applies_every_job_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    queue = SQLiteQueue(db)
    for n in range(JOBS):
        user, thread = f"u{n % USERS}", f"t{n}"
        queue.enqueue(
            {"messages": [["user", f"conv-{n}: I like item {n}"]]},
            config={"configurable": {"user_id": user, "thread_id": thread}},
            key=debounce_key(("memories", user), thread, None),
            idempotency_key=f"conv-{n}",
        )
    assert queue.counts()["queued"] == JOBS

    worker = start_worker(db, lease=2.0)
    give_up = time.monotonic() + 120
    while queue.counts()["done"] < JOBS // 3:
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        assert time.monotonic() < give_up, "the worker made no progress"
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert worker.returncode == -signal.SIGKILL
    at_kill = queue.counts()
    assert JOBS // 3 <= at_kill["done"] < JOBS  # killed part-way

    # Restart: two workers share the file; the killed worker's leased job comes back
    # when its lease runs out (or is marked done if its writes had committed).
    restarted = [start_worker(db, lease=2.0) for _ in range(2)]
    for proc in restarted:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err

    counts = queue.counts()
    assert counts["done"] == JOBS, counts
    assert counts["queued"] == counts["running"] == counts["dead"] == 0

    store = SQLiteStore(db)
    seen: Counter[str] = Counter()
    versions = 0
    for u in range(USERS):
        items = store.search(("memories", f"u{u}"), limit=JOBS)
        assert len(items) == JOBS // USERS
        for item in items:
            seen[item.value["content"]["content"]] += 1
            history = store.history(("memories", f"u{u}"), item.key)
            assert len(history) == 1  # written once, never rewritten by a second run
            versions += len(history)
    assert seen == Counter({f"User likes item {n}": 1 for n in range(JOBS)})
    assert versions == JOBS
    job_ids = {
        v.provenance["job_id"]
        for u in range(USERS)
        for i in store.search(("memories", f"u{u}"), limit=JOBS)
        for v in store.history(("memories", f"u{u}"), i.key)
    }
    assert len(job_ids) == JOBS  # one write per job
