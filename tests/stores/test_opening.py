"""Opening a store on a path or URL that cannot be one is a typed error, and a SQLite file
of another application is refused without a byte of it changed."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from retain.errors import ConfigurationError
from retain.queue import SQLiteQueue
from retain.stores import SQLiteStore, open_store


def test_a_directory_is_not_a_sqlite_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        SQLiteStore(tmp_path)
    with pytest.raises(ConfigurationError, match="is a directory"):
        open_store(f"sqlite:///{tmp_path}")


def test_an_empty_path_does_not_give_a_throwaway_database() -> None:
    for make in (lambda: SQLiteStore(""), lambda: open_store("sqlite:///")):
        with pytest.raises(ConfigurationError, match="empty path"):
            make()


def test_a_path_under_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigurationError, match="folder"):
        SQLiteStore(tmp_path / "afile" / "memories.db")


def test_the_folder_of_a_new_store_is_created(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a" / "b" / "memories.db", index=False)
    store.put(("t",), "k", {"v": 1})
    store.close()
    assert (tmp_path / "a" / "b" / "memories.db").is_file()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "schema",
    [
        # another application whose tables have retain's old unprefixed names
        ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)", "CREATE TABLE history (x)"],
        ["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"],
        ["CREATE TABLE t (x, y)", "CREATE INDEX t_x ON t(x)", "CREATE VIEW v AS SELECT x FROM t"],
    ],
)
def test_another_applications_database_is_refused_and_left_byte_identical(
    tmp_path: Path, schema: list[str]
) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    for statement in schema:
        conn.execute(statement)
    conn.execute(f"INSERT INTO {schema[0].split()[2]} VALUES (1, 'mine')")
    conn.commit()
    conn.close()
    before = _digest(path)
    for opener in (
        lambda: SQLiteStore(path),
        lambda: open_store(f"sqlite:///{path}"),
    ):
        with pytest.raises(ConfigurationError, match="another application") as raised:
            opener()
        assert str(path) in str(raised.value)
        assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal or -shm left


def test_the_job_queue_refuses_another_applications_database(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(ConfigurationError, match="another application"):
        SQLiteQueue(path)  # the store's connection helper: refused before any write
    assert _digest(path) == before
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert tables == {"items"}  # the migration was refused inside its transaction


def test_an_empty_file_and_retains_own_file_open(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    SQLiteStore(empty, index=False).close()
    store = SQLiteStore(empty, index=False)  # now retain's: opens again
    store.put(("t",), "k", {"v": 1})
    store.close()


@pytest.mark.parametrize(
    "url", ["mysql://u:s3cret@h/db", "host=h password=s3cret", "sqlite:/x:s3cret", "s3cret"]
)
def test_an_unknown_url_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ConfigurationError, match="Unknown store URL") as raised:
        open_store(url)
    assert "s3cret" not in str(raised.value)
