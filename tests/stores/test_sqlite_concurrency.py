"""Several processes on one SQLite file: concurrent writers, a writer killed mid-batch,
and the vector cache seeing another process's writes. Real files, real subprocesses."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retain.stores.sqlite_vectors import VectorCache
from tests.stores.sqlite_procs import open_store

ROOT = Path(__file__).resolve().parents[2]


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stores.sqlite_procs", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.slow
def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    open_store(str(path)).close()
    go = tmp_path / "go"
    procs = [_spawn("writer", str(path), str(w), "500", str(go)) for w in (1, 2)]
    ready = [tmp_path / f"go.ready{w}" for w in (1, 2)]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready):  # both have opened the store and wait
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "a writer never opened the store"
        time.sleep(0.01)
    go.write_text("go")
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err.lower()
    store = open_store(str(path))
    for w in (1, 2):
        found = store.search(("proc", f"w{w}"), limit=1000)
        assert sorted(i.key for i in found) == sorted(f"k{i}" for i in range(500))
    assert _count(path, "SELECT COUNT(*) FROM retain_history") == 1000
    assert _count(path, "SELECT COUNT(*) FROM retain_vectors") == 1000
    assert _count(path, "SELECT COUNT(*) FROM retain_items_fts") == 1000
    hits = store.search(("proc",), query="worker wrote item", limit=2000)
    assert len(hits) == 1000
    assert all(h.score is not None for h in hits)  # every item's vector is searchable
    store.close()


@pytest.mark.slow
def test_a_process_killed_mid_batch_leaves_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    store = open_store(str(path))
    store.put(("proc", "batch"), "before", {"content": "committed before the batch"})
    store.close()
    marker = tmp_path / "inside"
    proc = _spawn("stall", str(path), str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never reached the transaction"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = open_store(str(path))  # the file opens and reads fine
    assert [i.key for i in store.search(("proc", "batch"), limit=10_000)] == ["before"]
    assert _count(path, "SELECT COUNT(*) FROM retain_items") == 1
    assert _count(path, "SELECT COUNT(*) FROM retain_history") == 1
    assert _count(path, "SELECT COUNT(*) FROM retain_items_fts") == 1
    assert _count(path, "SELECT COUNT(*) FROM retain_vectors") == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    store.put(("proc", "batch"), "after", {"content": "written after the crash"})
    assert store.get(("proc", "batch"), "after") is not None
    store.close()


@pytest.mark.slow
def test_search_sees_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "seen.db"
    store = open_store(str(path))
    store.put(("proc", "shared"), "gone", {"content": "violet tulips in the garden"})
    store.put(("proc", "shared"), "stay", {"content": "red roses"})
    assert store.search(("proc",), query="violet tulips")[0].key == "gone"  # cache loaded
    proc = _spawn("put", str(path), "new", "amber lanterns at night")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    found = store.search(("proc",), query="amber lanterns at night", limit=10)
    assert found[0].key == "new"
    assert found[0].score == pytest.approx(1.0)
    assert "gone" not in {i.key for i in found}
    store.close()


def test_a_second_connection_in_one_process_invalidates_the_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "two.db")
    first, second = open_store(path), open_store(path)
    first.put(("n",), "a", {"content": "alpha beta"})
    assert [i.key for i in first.search(("n",), query="alpha beta")] == ["a"]
    second.put(("n",), "a", {"content": "gamma delta"})
    second.put(("n",), "b", {"content": "alpha beta"})
    found = first.search(("n",), query="alpha beta")
    assert [i.key for i in found] == ["b", "a"]
    assert found[0].score == pytest.approx(1.0)
    assert found[1].score is not None
    assert found[1].score < 0.99
    second.delete(("n",), "b")
    assert [i.key for i in first.search(("n",), query="alpha beta")] == ["a"]
    first.close()
    second.close()


def test_the_cache_follows_this_stores_own_writes(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "own.db"))
    store.put(("n", "x"), "a", {"content": "alpha"})
    assert store.search(("n",), query="alpha")[0].key == "a"  # loaded now
    store.put(("n", "x"), "a", {"content": "omega"})  # its vector changes
    store.put(("n", "y"), "b", {"content": "alpha"})
    assert [i.key for i in store.search(("n",), query="alpha", limit=1)] == ["b"]
    store.delete(("n", "y"), "b")
    store.put(("n", "x"), "c", {"content": "alpha"}, index=False)  # no vector
    found = store.search(("n",), query="alpha")
    assert [(i.key, i.score is None) for i in found] == [("a", False), ("c", True)]
    assert len(store._cache) == 1
    store.close()


def test_vector_cache_matches_brute_force_through_puts_and_removes() -> None:
    rng = np.random.default_rng(7)
    cache = VectorCache(8)
    truth: dict[int, tuple[str, list[np.ndarray]]] = {}
    for step in range(600):
        item = int(rng.integers(0, 80))
        if rng.random() < 0.3:
            cache.remove(item)
            truth.pop(item, None)
        else:
            prefix = f"ns.{rng.integers(0, 4)}"
            vecs = rng.standard_normal((int(rng.integers(1, 3)), 8)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            cache.put(prefix, item, list(vecs))
            truth[item] = (prefix, list(vecs))
        if step % 50 == 0:
            cache.drop_under(("ns", "3"))
            truth = {k: v for k, v in truth.items() if v[0] != "ns.3"}
        q = rng.standard_normal(8).astype(np.float32)
        q /= np.linalg.norm(q)
        for prefix_t, wanted in [(("ns",), None), (("ns", "1"), "ns.1")]:
            best = sorted(
                (
                    (-max(float(v @ q) for v in vecs), item_id)
                    for item_id, (p, vecs) in truth.items()
                    if wanted is None or p == wanted
                ),
            )[:5]
            got = cache.search(prefix_t, q, 5)
            assert [i for i, _ in got] == [i for _, i in best]
            assert [s for _, s in got] == pytest.approx([-s for s, _ in best], abs=1e-5)
    assert len(cache) == len(truth)
