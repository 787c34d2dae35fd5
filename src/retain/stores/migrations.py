"""Schema migrations: a small registry of numbered steps, applied in order and recorded in
the ``retain_migrations`` table of the database they ran on."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from retain.stores.sqlite_sql import ns_terms

__all__ = [
    "SQLITE_MIGRATIONS",
    "ForeignDatabaseError",
    "Migration",
    "apply_sqlite_migrations",
    "foreign_schema",
    "migration",
]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


SQLITE_MIGRATIONS: list[Migration] = []


def migration(version: int, name: str) -> Callable[[Callable[[sqlite3.Connection], None]], None]:
    """Register ``func`` as SQLite migration ``version`` (versions must increase by one)."""

    def register(func: Callable[[sqlite3.Connection], None]) -> None:
        expected = len(SQLITE_MIGRATIONS) + 1
        if version != expected:
            raise AssertionError(f"migration {name} has version {version}, expected {expected}")
        SQLITE_MIGRATIONS.append(Migration(version, name, func))

    return register


@migration(1, "items, vectors, keyword index, history, meta")
def _initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, prefix TEXT NOT NULL, key TEXT NOT NULL, "
        "value TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, "
        "expires_at REAL, ttl_minutes REAL, UNIQUE (prefix, key))"
    )
    conn.execute("CREATE INDEX items_expires ON items(expires_at) WHERE expires_at IS NOT NULL")
    conn.execute(
        "CREATE TABLE vectors (item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE, "
        "field TEXT NOT NULL, embedding BLOB NOT NULL, PRIMARY KEY (item_id, field))"
    )
    conn.execute("CREATE VIRTUAL TABLE items_fts USING fts5(body, tokenize='porter unicode61')")
    conn.execute(
        "CREATE TABLE history (id INTEGER PRIMARY KEY, prefix TEXT NOT NULL, key TEXT NOT NULL, "
        "version INTEGER NOT NULL, op TEXT NOT NULL, value TEXT, at REAL NOT NULL, "
        "provenance TEXT NOT NULL DEFAULT '{}', UNIQUE (prefix, key, version))"
    )
    conn.execute("CREATE TABLE retain_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration(2, "durable job queue")
def _jobs(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE retain_jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, "
        "key TEXT, idempotency_key TEXT UNIQUE, payload TEXT NOT NULL, "
        "config TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL, run_at REAL NOT NULL, "
        "attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, "
        "lease_token TEXT, leased_until REAL, worker TEXT, effect_at REAL, error TEXT, "
        "result TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)"
    )
    conn.execute("CREATE INDEX retain_jobs_due ON retain_jobs(queue, state, run_at)")
    conn.execute("CREATE INDEX retain_jobs_key ON retain_jobs(queue, key, state)")


@migration(3, "API keys of retain serve")
def _api_keys(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE retain_api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, subject TEXT, "
        "prefixes TEXT NOT NULL, permissions TEXT NOT NULL, secret_hash TEXT NOT NULL, "
        "created_at REAL NOT NULL, revoked_at REAL)"
    )


@migration(4, "retain_ prefix on every table, as on PostgreSQL")
def _prefixed(conn: sqlite3.Connection) -> None:
    """Rename the tables of migration 1 so that a database shared with other code holds
    only ``retain_*`` tables (FTS5 renames its shadow tables with it)."""
    for old in ("items", "vectors", "history", "items_fts"):
        conn.execute(f"ALTER TABLE {old} RENAME TO retain_{old}")
    conn.execute("DROP INDEX items_expires")
    conn.execute(
        "CREATE INDEX retain_items_expires ON retain_items(expires_at) WHERE expires_at IS NOT NULL"
    )


@migration(5, "index of items by namespace and id (recall's neighbours)")
def _prefix_id(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE INDEX retain_items_prefix_id ON retain_items(prefix, id)")


@migration(6, "namespace tokens in the keyword index (a search reads its namespace's postings)")
def _fts_namespaces(conn: sqlite3.Connection) -> None:
    """Rebuild the keyword index with an ``ns`` column (:func:`~retain.stores.sqlite_sql.
    ns_terms`): before, every keyword search and count read the postings of every
    namespace in the file, so one tenant's search slowed down with everyone's data."""
    conn.execute("ALTER TABLE retain_items_fts RENAME TO retain_items_fts_old")
    conn.execute(
        "CREATE VIRTUAL TABLE retain_items_fts USING fts5(body, ns, tokenize='porter unicode61')"
    )
    last = -1
    while True:  # in chunks: a large file's text need not fit in memory at once
        rows = conn.execute(
            "SELECT f.rowid, f.body, i.prefix FROM retain_items_fts_old f JOIN retain_items i "
            "ON i.id = f.rowid WHERE f.rowid > ? ORDER BY f.rowid LIMIT 5000",
            (last,),
        ).fetchall()
        if not rows:
            break
        conn.executemany(
            "INSERT INTO retain_items_fts(rowid, body, ns) VALUES (?, ?, ?)",
            [(rowid, body, ns_terms(prefix)) for rowid, body, prefix in rows],
        )
        last = rows[-1][0]
    conn.execute("DROP TABLE retain_items_fts_old")


@migration(7, "a log of vector changes (other connections refresh their caches from it)")
def _vector_log(conn: sqlite3.Connection) -> None:
    """Every insert, update or delete of a vector row logs its item id, so a connection
    whose vector cache is behind re-reads only the items changed since, instead of every
    vector in the file (SQLiteStore keeps the newest VECTOR_LOG_KEEP entries)."""
    conn.execute(
        "CREATE TABLE retain_vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "item_id INTEGER NOT NULL)"
    )
    for event, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
        conn.execute(
            f"CREATE TRIGGER retain_vectors_log_{event.lower()} AFTER {event} ON retain_vectors "
            f"BEGIN INSERT INTO retain_vector_log(item_id) VALUES ({row}.item_id); END"
        )


@migration(8, "item changes logged too, with their namespace (other connections' keyword counts)")
def _item_log(conn: sqlite3.Connection) -> None:
    """Every insert, update or delete of an item logs its id and namespace, so a connection
    whose keyword counts are behind drops only the namespaces another connection wrote,
    instead of all of them (several server processes on one file write all the time)."""
    conn.execute("ALTER TABLE retain_vector_log ADD COLUMN prefix TEXT")
    for event, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
        conn.execute(
            f"CREATE TRIGGER retain_items_log_{event.lower()} AFTER {event} ON retain_items "
            f"BEGIN INSERT INTO retain_vector_log(item_id, prefix) VALUES ({row}.id, "
            f"{row}.prefix); END"
        )


def foreign_schema(conn: sqlite3.Connection) -> list[str]:
    """The names of the schema objects of a database that retain did not create (it has
    objects but no ``retain_migrations`` table); empty for a new or a retain database."""
    names = [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return [] if "retain_migrations" in names else names


class ForeignDatabaseError(sqlite3.DatabaseError):
    """The file holds another application's tables (found inside the migration
    transaction, which is rolled back)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"not a retain database: it has {', '.join(names)}")


def apply_sqlite_migrations(conn: sqlite3.Connection) -> list[int]:
    """Apply the pending migrations in one write transaction; returns the versions applied.

    Safe when several processes open the same file at once: ``BEGIN IMMEDIATE`` lets one
    of them migrate while the others wait, then find nothing to do. A database holding
    tables of another application (and no ``retain_migrations``) is left untouched:
    :class:`ForeignDatabaseError`.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        foreign = foreign_schema(conn)
        if foreign:
            raise ForeignDatabaseError(foreign)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS retain_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM retain_migrations")}
        applied = []
        for step in SQLITE_MIGRATIONS:
            if step.version in done:
                continue
            step.apply(conn)
            conn.execute(
                "INSERT INTO retain_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
            applied.append(step.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied
