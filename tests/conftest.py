"""Shared test fixtures. Real network calls fail in every test (retain's own plugin)."""

from __future__ import annotations

import asyncio
import faulthandler
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest_plugins = ["retain.testing.pytest_plugin", "tests.pg_server"]


@pytest.fixture(params=["sync", "async"])
def call_mode(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over the sync and async API."""
    return str(request.param)


@pytest.fixture
def invoke(call_mode: str) -> Callable[..., Any]:
    """``invoke(runnable, input, config=None)`` through ``invoke`` or ``ainvoke``."""

    def run(runnable: Any, value: Any, config: Any = None) -> Any:
        if call_mode == "sync":
            return runnable.invoke(value, config)
        return asyncio.run(runnable.ainvoke(value, config))

    return run


def _on_postgres(item: pytest.Item) -> bool:
    """Whether a test runs on the session's PostgreSQL server: it asks for ``pg_server``
    (directly or through ``pg_url``/``pg_database``) or is parametrised with ``"postgres"``."""
    callspec = getattr(item, "callspec", None)
    return "pg_server" in getattr(item, "fixturenames", ()) or (
        callspec is not None and "postgres" in callspec.params.values()
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test on the PostgreSQL server ``postgres``, however it reaches the server,
    so ``-m postgres`` / ``-m "not postgres"`` select exactly those tests."""
    for item in items:
        if _on_postgres(item) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


PG_TEST_TIMEOUT = 240  # seconds; slow PostgreSQL tests get 900
PG_SLOW_TEST_TIMEOUT = 900


@pytest.fixture(autouse=True)
def _pg_hang_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on the PostgreSQL server (asking for ``pg_server`` or parametrised with
    ``"postgres"``) fails, with every thread's stack printed, instead of hanging: ``SIGALRM``
    raises ``TimeoutError`` in the test after its time limit; if even that cannot
    interrupt it, faulthandler ends the run a minute later.

    A hang seen once (fresh clone, loaded machine): ``asyncio.run`` cancelling an open
    psycopg ``AsyncConnectionPool``'s tasks at loop end waited forever. Tests that use the
    async API close the store's async pool inside their loop (``await store.aclose()``)."""
    if not _on_postgres(request.node):
        yield
        return
    slow = request.node.get_closest_marker("slow") is not None
    seconds = PG_SLOW_TEST_TIMEOUT if slow else PG_TEST_TIMEOUT

    def expire(signum: int, frame: Any) -> None:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise TimeoutError(f"{request.node.nodeid} ran over {seconds} s: hung?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    faulthandler.dump_traceback_later(seconds + 60, exit=True)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
