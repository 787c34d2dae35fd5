"""SQLite schema migrations: a database made by an earlier retain is upgraded in place."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from retain.stores import SQLiteStore
from retain.stores.migrations import SQLITE_MIGRATIONS


def test_a_database_from_before_the_retain_prefix_keeps_its_memories(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE retain_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at REAL NOT NULL)"
    )
    for step in SQLITE_MIGRATIONS[:3]:  # the schema as retain 0.1.0.dev0 left it
        step.apply(conn)
        conn.execute(
            "INSERT INTO retain_migrations VALUES (?, ?, ?)", (step.version, step.name, time.time())
        )
    now = time.time()
    conn.execute(
        "INSERT INTO items(id, prefix, key, value, created_at, updated_at) VALUES "
        "(1, 'users.u1', 'k', '{\"content\": \"User adopted a kitten\"}', ?, ?)",
        (now, now),
    )
    conn.execute("INSERT INTO items_fts(rowid, body) VALUES (1, 'User adopted a kitten')")
    conn.execute(
        "INSERT INTO history(prefix, key, version, op, value, at) VALUES ('users.u1', 'k', 1, "
        "'put', '{\"content\": \"User adopted a kitten\"}', ?)",
        (now,),
    )
    conn.close()

    store = SQLiteStore(path, index=False)
    try:
        item = store.get(("users", "u1"), "k")
        assert item is not None
        assert item.value == {"content": "User adopted a kitten"}
        assert [i.key for i in store.recall(("users",), query="adopting kittens")] == ["k"]
        assert [v.version for v in store.history(("users", "u1"), "k")] == [1]
    finally:
        store.close()
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"retain_items", "retain_vectors", "retain_history", "retain_items_fts"} <= tables
    assert not {"items", "vectors", "history", "items_fts"} & tables
