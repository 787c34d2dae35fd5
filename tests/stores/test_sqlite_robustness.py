"""Bad input and damaged files on SQLiteStore: typed errors that say what to do, and
nothing half-written (checked with SQL on the real file). Purge leaves no row behind."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import InvalidNamespaceError as LangGraphInvalidNamespaceError
from langgraph.store.base import PutOp

from retain.errors import (
    EmbeddingDimensionError,
    InvalidInputError,
    InvalidNamespaceError,
    InvalidValueError,
    RetainError,
    StoreCorruptedError,
    StoreError,
    StoreLockedError,
)
from retain.stores import SQLiteStore
from tests.stateful.conftest import DIMS, INDEX, bag_of_words

NS = ("users", "u1")
TABLES = ("retain_items", "retain_history", "retain_vectors", "retain_items_fts")


def _counts(path: Path | str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    s.put(NS, "keep", {"content": "already stored"})
    yield s
    s.close()


BAD_NAMESPACES: list[Any] = [
    ("users", ""),
    ("users", "a.b"),
    ("users", 5),
    ("users", None),
    (),
    "users",
    ("langgraph", "x"),
]


@pytest.mark.parametrize("namespace", BAD_NAMESPACES)
def test_invalid_namespace_labels_are_typed_errors_and_write_nothing(
    store: SQLiteStore, namespace: Any
) -> None:
    before = _counts(store.path)
    with pytest.raises(InvalidNamespaceError) as raised:
        store.put(namespace, "k", {"content": "x"})
    assert isinstance(raised.value, RetainError)
    assert isinstance(raised.value, LangGraphInvalidNamespaceError)  # LangGraph code still works
    with pytest.raises(InvalidNamespaceError):  # batch bypasses BaseStore.put's own check
        store.batch([PutOp(NS, "ok", {"content": "fine"}), PutOp(namespace, "k", {"c": "x"})])
    assert _counts(store.path) == before
    assert store.get(NS, "ok") is None


def test_bad_labels_in_reads_are_typed_errors(store: SQLiteStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.get(("users", "a.b"), "k")
    with pytest.raises(InvalidNamespaceError):
        store.search(("users", 3))  # type: ignore[arg-type]
    with pytest.raises(InvalidNamespaceError):
        store.recall(("users", ""), query="x")
    with pytest.raises(InvalidInputError):
        store.batch([PutOp(NS, 7, {"content": "x"})])  # type: ignore[arg-type]
    assert store.search(()) != []  # the empty prefix is fine for search


BAD_VALUES: list[Any] = [
    {"content": object()},
    {"when": {1, 2}},
    {"score": float("nan")},
    {"nested": {"deep": [1, b"bytes"]}},
    {(1, 2): "tuple key"},
    "just a string",
    ["a", "list"],
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_values_that_are_not_json_objects_are_typed_errors_and_write_nothing(
    store: SQLiteStore, value: Any
) -> None:
    before = _counts(store.path)
    with pytest.raises(InvalidValueError) as raised:
        store.batch([PutOp(NS, "keep", {"content": "changed"}), PutOp(NS, "bad", value)])
    assert isinstance(raised.value, InvalidInputError)
    assert "users" in str(raised.value)
    assert "bad" in str(raised.value)  # names the item
    with pytest.raises(InvalidValueError):
        store.put(NS, "bad", value)
    assert _counts(store.path) == before
    assert store.get(NS, "keep").value == {"content": "already stored"}  # type: ignore[union-attr]
    assert store.get(NS, "bad") is None


class SwitchableEmbed:
    """Embeddings that return the right vectors, or wrong ones when told to."""

    def __init__(self) -> None:
        self.mode = "ok"

    def __call__(self, texts: list[str]) -> list[list[float]]:
        good = bag_of_words(texts)
        if self.mode == "short":
            return [v[:3] for v in good]
        if self.mode == "ragged":
            return [v if i % 2 else v[:5] for i, v in enumerate(good)]
        if self.mode == "missing":
            return good[:-1]
        if self.mode == "nan":
            return [[float("nan")] * DIMS for _ in texts]
        return good


@pytest.mark.parametrize("mode", ["short", "ragged", "missing", "nan"])
def test_wrong_vectors_from_the_model_are_typed_errors_and_write_nothing(
    tmp_path: Path, mode: str
) -> None:
    embed = SwitchableEmbed()
    store = SQLiteStore(tmp_path / "v.db", index={"embed": embed, "dims": DIMS})
    store.put(NS, "keep", {"content": "stored while the model worked"})
    before = _counts(store.path)
    embed.mode = mode
    with pytest.raises(EmbeddingDimensionError) as raised:
        store.batch(
            [
                PutOp(NS, "keep", {"content": "changed"}),
                PutOp(NS, "new", {"content": "a second text"}),
            ]
        )
    assert str(DIMS) in str(raised.value) or mode == "nan"
    assert _counts(store.path) == before
    assert store.get(NS, "keep").value == {"content": "stored while the model worked"}  # type: ignore[union-attr]
    if mode != "missing":  # one query: "missing" returns one vector too few only for lists
        with pytest.raises(EmbeddingDimensionError):
            store.search(NS, query="stored")
    embed.mode = "ok"
    assert store.search(NS, query="stored while the model worked")[0].key == "keep"
    store.close()


def test_a_file_locked_past_the_timeout_is_a_typed_error_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, busy_timeout_ms=100, lock_retries=2)
    store.put(NS, "keep", {"content": "before the lock"})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another connection holds the write lock
    started = time.monotonic()
    with pytest.raises(StoreLockedError) as raised:
        store.put(NS, "new", {"content": "blocked"})
    waited = time.monotonic() - started
    message = str(raised.value)
    assert str(path) in message
    assert "busy_timeout_ms" in message
    assert isinstance(raised.value, StoreError)
    assert 0.3 <= waited < 10  # three attempts of 100 ms each, plus backoff: bounded
    assert store.get(NS, "keep") is not None  # WAL: reads go on during the lock
    other.execute("ROLLBACK")
    other.close()
    assert store.get(NS, "new") is None
    assert _counts(path)["retain_history"] == 1
    store.put(NS, "new", {"content": "after the lock"})
    assert store.get(NS, "new") is not None
    store.close()


def test_a_lock_released_during_the_retries_is_waited_out(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SQLiteStore(path, busy_timeout_ms=100, lock_retries=8)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.4, lambda: other.execute("ROLLBACK"))
    release.start()
    store.put(NS, "k", {"content": "written once the lock went"})  # longer than one timeout
    release.join()
    other.close()
    assert store.get(NS, "k") is not None
    store.close()


def test_a_file_of_random_bytes_is_a_typed_error_naming_it_and_left_as_is(
    tmp_path: Path,
) -> None:
    path = tmp_path / "random.db"
    data = random.Random(3).randbytes(16_384)
    path.write_bytes(data)
    with pytest.raises(StoreCorruptedError) as raised:
        SQLiteStore(path, index=INDEX)  # type: ignore[arg-type]
    assert str(path) in str(raised.value)
    assert "backup" in str(raised.value)
    assert path.read_bytes() == data
    assert not (tmp_path / "random.db-wal").exists()


def test_a_damaged_database_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    store = SQLiteStore(path, index=INDEX)  # type: ignore[arg-type]
    store.batch([PutOp(NS, f"k{i}", {"content": f"memory number {i} " * 20}) for i in range(300)])
    store.close()
    raw = bytearray(path.read_bytes())
    page = 4096
    noise = random.Random(5).randbytes(len(raw) - 2 * page)
    raw[2 * page :] = noise  # keep the header and the schema page, wreck the rest
    path.write_bytes(bytes(raw))

    def open_and_use() -> None:  # the damage shows at opening or at the first read
        damaged = SQLiteStore(path, index=INDEX)  # type: ignore[arg-type]
        damaged.search(NS, query="memory number 7", limit=300)
        damaged.recall(NS, query="memory number 7", mode="keyword")
        damaged.put(NS, "k1", {"content": "rewrite"})

    with pytest.raises(StoreCorruptedError) as raised:
        open_and_use()
    assert str(path) in str(raised.value)


def test_operations_on_a_closed_store_are_store_errors(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "closed.db")
    store.close()
    with pytest.raises(StoreError):
        store.get(NS, "k")


def _rows_mentioning(conn: sqlite3.Connection, needles: list[str]) -> list[tuple[str, str]]:
    """``(table, column)`` of every cell, in every table (FTS shadow tables included),
    whose text or bytes contain one of the needles."""
    hits = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")]
        for column in columns:
            for needle in needles:
                found = conn.execute(
                    f'SELECT COUNT(*) FROM "{table}" WHERE instr(CAST("{column}" AS BLOB), '
                    "CAST(? AS BLOB)) > 0",
                    (needle,),
                ).fetchone()[0]
                if found:
                    hits.append((table, column))
    return hits


def test_purge_leaves_no_row_of_the_user_in_any_table(tmp_path: Path) -> None:
    path = tmp_path / "purge.db"
    store = SQLiteStore(path, index=INDEX)  # type: ignore[arg-type]
    for i in range(40):
        store.put(("users", "u1"), f"m{i}", {"content": f"qqxylophone lesson {i}"})
        store.put(("users", "u2"), f"m{i}", {"content": f"otter lesson {i}"})
    store.put(("users", "u1", "notes"), "n", {"content": "qqxylophone nested note"})
    store.put(("users", "u10"), "m", {"content": "otter swims"})  # shares the "u1" prefix text
    store.put(("users", "u1"), "m0", {"content": "qqxylophone lesson again"})
    store.delete(("users", "u1"), "m1")
    assert store.search(("users", "u1"), query="qqxylophone lesson")  # vector cache loaded
    conn = sqlite3.connect(path)
    needles = ["qqxyloph", "users.u1"]
    before = _rows_mentioning(conn, ["qqxyloph"])
    assert {"retain_items", "retain_history", "retain_items_fts_content"} <= {
        t for t, _ in before
    }  # the check works

    assert store.purge(("users", "u1")) == 40  # 39 left in u1 plus the nested note

    leftover = [
        hit
        for hit in _rows_mentioning(conn, needles)
        if hit
        not in {  # "users.u10" (checked exactly below)
            ("retain_items", "prefix"),
            ("retain_history", "prefix"),
            ("retain_vector_log", "prefix"),
        }
    ]
    assert leftover == []
    for table in ("retain_items", "retain_history", "retain_vector_log"):
        rows = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE prefix = 'users.u1' OR prefix LIKE 'users.u1.%'"
        ).fetchone()[0]
        assert rows == 0
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM retain_vectors WHERE item_id NOT IN (SELECT id FROM retain_items)"
        ).fetchone()[0]
        == 0
    )
    assert conn.execute("SELECT COUNT(*) FROM retain_vectors").fetchone()[0] == 41
    conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, retain_items_fts, 'row')")
    assert conn.execute("SELECT COUNT(*) FROM vocab WHERE term LIKE 'qqxyloph%'").fetchone()[0] == 0
    assert conn.execute("SELECT cnt FROM vocab WHERE term = 'otter'").fetchone()[0] == 41
    conn.close()
    file_bytes = path.read_bytes() + (
        (tmp_path / "purge.db-wal").read_bytes() if (tmp_path / "purge.db-wal").exists() else b""
    )
    assert b"qqxyloph" not in file_bytes  # freed pages zeroed, WAL checkpointed

    assert store.search(("users", "u1"), query="qqxylophone lesson") == []
    assert store.recall(("users",), query="qqxylophone", mode="keyword") == []
    assert len(store.search(("users", "u2"), query="otter lesson", limit=100)) == 40
    assert store.get(("users", "u10"), "m") is not None
    assert store.history(("users", "u1"), "m0") == []
    store.close()


def test_equality_filters_in_sql_match_langgraph_semantics(tmp_path: Path) -> None:
    from langgraph.store.memory import InMemoryStore

    values: list[dict[str, Any]] = [
        {"n": 1},
        {"n": 1.0},
        {"n": True},
        {"n": "1"},
        {"n": None},
        {},
        {"n": [1]},
        {"n": {"a": 1}},
        {"n": '{"a": 1}'},
        {"a.b": "dot"},
    ]
    sqlite = SQLiteStore(tmp_path / "f.db", index=INDEX)  # type: ignore[arg-type]
    memory = InMemoryStore(index=INDEX)  # type: ignore[arg-type]
    for s in (sqlite, memory):
        for i, v in enumerate(values):
            s.put(("f",), f"k{i}", {"content": f"item {i}", **v})
    for want in [1, True, 1.0, "1", None, '{"a": 1}', 0, "dot"]:
        for key in ("n", "a.b"):
            got = {i.key for i in sqlite.search(("f",), query="item", filter={key: want}, limit=50)}
            expected = {
                i.key for i in memory.search(("f",), query="item", filter={key: want}, limit=50)
            }
            assert got == expected, (key, want)
    sqlite.close()
