"""A worker process for the crash test: runs a store manager over the durable queue.

Usage: python crash_worker.py DB_PATH LEASE_SECONDS
"""

from __future__ import annotations

import re
import sys
from typing import Any

from retain import create_memory_store_manager
from retain.queue import QueueWorker, SQLiteQueue
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel, insert


def remember(call: Any) -> Any:
    n = re.findall(r"conv-(\d+)", call.text)[-1]
    return [insert(f"User likes item {n}")]


def main() -> None:
    path, lease = sys.argv[1], float(sys.argv[2])
    store = SQLiteStore(path)
    queue = SQLiteQueue.for_store(store)
    manager = create_memory_store_manager(
        FakeChatModel(remember), namespace=("memories", "{user_id}"), store=store
    )
    ran = QueueWorker(queue, manager, lease_seconds=lease, poll_interval=0.2).run(until_idle=True)
    print(ran, flush=True)


if __name__ == "__main__":
    main()
