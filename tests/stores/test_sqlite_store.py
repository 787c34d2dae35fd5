"""SQLiteStore's own mechanics: several processes on one file, the default store, URLs."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from retain import ConfigurationError
from retain.stores import SQLiteStore, default_store, open_store

NS = ("memories", "alice")


def _writer(path: str, worker: int) -> None:
    store = SQLiteStore(path)
    for i in range(50):
        store.put(("memories", f"w{worker}"), f"k{i}", {"content": f"worker {worker} item {i}"})
    store.close()


@pytest.mark.slow
def test_several_processes_write_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = SQLiteStore(path)
    assert len(store.search(("memories",), limit=1000)) == 150
    assert all(len(store.history(("memories", "w1"), f"k{i}")) == 1 for i in range(50))


def test_open_store_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(store, SQLiteStore)
    assert isinstance(open_store("sqlite:///:memory:"), SQLiteStore)
    with pytest.raises(ConfigurationError):
        open_store("mysql://nope")


@pytest.mark.slow
def test_default_store_uses_the_offline_minilm_model(tmp_path: Path) -> None:
    store = default_store(tmp_path / "default.db")
    store.put(NS, "hike", {"content": "I love hiking in the Alps"})
    store.put(NS, "cat", {"content": "My cat is named Tom"})
    assert store.search(NS, query="mountain walks")[0].key == "hike"
    assert store.recall(NS, query="pets at home")[0].key == "cat"
