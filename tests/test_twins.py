"""retain.twins: one body for a method and its async twin."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from retain.twins import Steps, awaiting, blocking, call


class Box:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get(self, key: str) -> str:
        self.calls.append(f"get {key}")
        if key == "missing":
            raise KeyError(key)
        return key.upper()

    async def aget(self, key: str) -> str:
        self.calls.append(f"aget {key}")
        return self.get(key)


def fetch(box: Box, keys: list[str]) -> Steps[list[str]]:
    found = []
    for key in keys:
        try:
            found.append((yield from call(box, "get", key)))
        except KeyError:  # a call's error is raised in the steps, where they can handle it
            found.append("?")
    return found


def fail(box: Box) -> Steps[Any]:
    return (yield from call(box, "get", "missing"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_both_twins_run_the_same_steps_and_errors_reach_them(mode: str) -> None:
    box = Box()
    keys = ["a", "missing", "b"]
    if mode == "sync":
        assert blocking(fetch)(box, keys) == ["A", "?", "B"]
        assert box.calls == ["get a", "get missing", "get b"]
    else:
        assert asyncio.run(awaiting(fetch)(box, keys)) == ["A", "?", "B"]
        assert box.calls[0::2] == ["aget a", "aget missing", "aget b"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_error_the_steps_do_not_handle_reaches_the_caller(mode: str) -> None:
    def run() -> Any:
        if mode == "sync":
            return blocking(fail)(Box())
        return asyncio.run(awaiting(fail)(Box()))

    with pytest.raises(KeyError):
        run()


def test_the_twins_keep_the_name_and_docstring() -> None:
    assert blocking(fetch).__name__ == awaiting(fetch).__name__ == "fetch"
    assert asyncio.iscoroutinefunction(awaiting(fetch))
