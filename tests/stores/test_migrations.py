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


def test_the_keyword_index_gains_namespace_tokens_and_keeps_every_row(tmp_path: Path) -> None:
    """Migration 6 rebuilds the keyword index with an ``ns`` column; a search then reads
    only its namespace's postings and still finds what it found before."""
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE retain_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at REAL NOT NULL)"
    )
    for step in SQLITE_MIGRATIONS[:5]:
        step.apply(conn)
        conn.execute(
            "INSERT INTO retain_migrations VALUES (?, ?, ?)", (step.version, step.name, time.time())
        )
    now = time.time()
    for rowid, prefix, text in [
        (1, "users.u1", "User adopted a kitten"),
        (2, "users.u2", "User adopted a puppy"),
        (3, "teams.t1", "The team adopted a kitten as mascot"),
    ]:
        conn.execute(
            "INSERT INTO retain_items(id, prefix, key, value, created_at, updated_at) VALUES "
            "(?, ?, 'k', json_object('content', ?), ?, ?)",
            (rowid, prefix, text, now, now),
        )
        conn.execute("INSERT INTO retain_items_fts(rowid, body) VALUES (?, ?)", (rowid, text))
    conn.close()

    store = SQLiteStore(path, index=False)
    try:

        def found(prefix: tuple[str, ...]) -> list[str]:
            return sorted(i.value["content"] for i in store.recall(prefix, query="adopted kittens"))

        assert found(("users", "u1")) == ["User adopted a kitten"]
        assert found(("users",)) == ["User adopted a kitten", "User adopted a puppy"]
        assert len(found(())) == 3
        store.put(("users", "u1"), "k2", {"content": "User adopted a second kitten"})
        assert len(found(("users", "u1"))) == 2
    finally:
        store.close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT rowid, ns FROM retain_items_fts ORDER BY rowid").fetchall()
    versions = [r[0] for r in conn.execute("SELECT version FROM retain_migrations")]
    conn.close()
    assert [r[0] for r in rows][:3] == [1, 2, 3]
    assert all(len(r[1].split()) == 2 for r in rows)
    assert rows[0][1].split()[0] == rows[1][1].split()[0] != rows[2][1].split()[0]
    assert versions == list(range(1, len(SQLITE_MIGRATIONS) + 1))
