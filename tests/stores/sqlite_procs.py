"""Child processes for the SQLite concurrency and durability tests.

Run as ``python -m tests.stores.sqlite_procs COMMAND PATH [ARGS]`` from the repository root:

* ``writer PATH WORKER COUNT GO_FILE``: open the store, write ``GO_FILE.readyWORKER``, wait
  for ``GO_FILE``, then put ``COUNT`` items one by one into ``("proc", "wWORKER")``,
  reading one back every tenth put;
* ``stall PATH MARKER``: start a 5,000-item batch and stop inside its write transaction
  (after the items were inserted), writing ``MARKER``; the test then kills the process;
* ``put PATH KEY TEXT``: put one item (with its vector) and delete the item ``"gone"``.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from pathlib import Path

from langgraph.store.base import PutOp

from retain.stores import SQLiteStore

DIMS = 32


def embed(texts: list[str]) -> list[list[float]]:
    """Deterministic hashed bag of words, L2-normalised."""
    out = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.lower().split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMS] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        out.append([v / norm for v in vec])
    return out


INDEX = {"dims": DIMS, "embed": embed}


def open_store(path: str) -> SQLiteStore:
    return SQLiteStore(path, index=INDEX)  # type: ignore[arg-type]


def writer(path: str, worker: str, count: str, go_file: str) -> None:
    store = open_store(path)
    Path(f"{go_file}.ready{worker}").write_text("ready")  # the handshake: opened, waiting
    deadline = time.monotonic() + 30
    while not Path(go_file).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    ns = ("proc", f"w{worker}")
    for i in range(int(count)):
        store.put(ns, f"k{i}", {"content": f"worker {worker} wrote item {i}"})
        if i % 10 == 0:
            assert store.get(ns, f"k{i}") is not None
    store.close()


def stall(path: str, marker: str) -> None:
    store = open_store(path)

    def trace(statement: str) -> None:
        if statement.startswith("INSERT INTO retain_vectors"):  # items are in, not committed
            Path(marker).write_text("inside the transaction")
            time.sleep(60)

    store._conn.set_trace_callback(trace)  # a pause point inside the real transaction
    store.batch(
        [PutOp(("proc", "batch"), f"b{i}", {"content": f"batch item {i}"}) for i in range(5000)]
    )


def put(path: str, key: str, text: str) -> None:
    store = open_store(path)
    store.put(("proc", "shared"), key, {"content": text})
    store.delete(("proc", "shared"), "gone")
    store.close()


if __name__ == "__main__":
    from tests.stores import sqlite_procs  # this module by its name, not as __main__

    command, *args = sys.argv[1:]
    getattr(sqlite_procs, command)(*args)
