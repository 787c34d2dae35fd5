"""Shared test fixtures. Real network calls fail in every test (retain's own plugin)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
