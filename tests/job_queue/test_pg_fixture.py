"""The PostgreSQL test fixture reuses databases: a database handed back is reset to the
template's state before the next test gets it, whatever the last test did to it."""

from __future__ import annotations

import psycopg
import pytest

from tests.pg_server import PgServer


@pytest.mark.postgres
def test_a_reused_database_is_as_new_whatever_the_last_test_did(pg_server: PgServer) -> None:
    name = pg_server.new_database()
    fresh = pg_server.snapshot(name)
    assert fresh == pg_server.snapshot("retain_template")
    url = pg_server.url(name)
    pg_server.sql(name, "CREATE TABLE retain_items (id bigserial PRIMARY KEY, v text)")
    pg_server.sql(name, "INSERT INTO retain_items (v) VALUES ('a secret')")
    pg_server.sql(name, "CREATE SCHEMA other; CREATE TABLE other.t (x int)")
    pg_server.sql(name, "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    pg_server.sql(name, "REVOKE USAGE ON SCHEMA public FROM PUBLIC")
    pg_server.sql(name, f"ALTER DATABASE {name} SET statement_timeout = '1s'")
    left_open = psycopg.connect(url, autocommit=True)  # a test that forgot to close
    left_open.execute("SELECT pg_advisory_lock(42)")
    assert pg_server.snapshot(name) != fresh

    pg_server.drop(name)
    again = pg_server.new_database()
    assert again == name  # reused, not created
    assert pg_server.snapshot(again) == fresh
    assert left_open.closed or left_open.broken or _ended(left_open)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'vector'"
        ).fetchone() == (1,)
    pg_server.drop(again)


def _ended(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False
