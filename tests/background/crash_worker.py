"""A worker process for the crash test: runs a store manager over the durable queue.

Usage: python crash_worker.py DB LEASE_SECONDS, DB a SQLite file path or a PostgreSQL URL
(``postgresql://...``: PostgresStore and PostgresQueue).
"""

from __future__ import annotations

import re
import sys
from typing import Any

from retain import create_memory_store_manager
from retain.queue import QueueWorker, open_queue
from retain.stores import RetainStore, SQLiteStore
from retain.testing import FakeChatModel, insert


def remember(call: Any) -> Any:
    n = re.findall(r"conv-(\d+)", call.text)[-1]
    return [insert(f"User likes item {n}")]


def main() -> None:
    path, lease = sys.argv[1], float(sys.argv[2])
    store: RetainStore
    if path.startswith("postgresql"):
        from retain.stores import PostgresStore

        store = PostgresStore(path)
    else:
        store = SQLiteStore(path)
    queue = open_queue(store)
    manager = create_memory_store_manager(
        FakeChatModel(remember), namespace=("memories", "{user_id}"), store=store
    )
    ran = QueueWorker(queue, manager, lease_seconds=lease, poll_interval=0.2).run(until_idle=True)
    print(ran, flush=True)


if __name__ == "__main__":
    main()
