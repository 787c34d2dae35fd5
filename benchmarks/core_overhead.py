"""Per-call overhead of the functional memory manager, retain vs langmem 0.0.30.

Both libraries are driven by the same zero-latency fake chat model
(``retain.testing.FakeChatModel``), which answers every call with the same scripted tool
calls, so the time measured is each library's own work around one model call. The
baseline is langmem, measured in the same run; the fake model's bare call cost is
printed for reference.

Scenarios:
  new       3 new memories from a 4-message conversation
  existing  50 existing memories, 2 updates and 1 delete
  profile   an 8-field profile updated in place (enable_inserts=False)

Run:  .venv/bin/python benchmarks/core_overhead.py [--iterations 300]
(needs ``pip install -e '.[bench]'`` for langmem)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from retain import Memory
from retain import create_memory_manager as retain_manager
from retain.testing import FakeChatModel, delete, insert, update

CONVERSATION = [
    {"role": "user", "content": "Hi, I'm Dana. I moved to Lisbon last month."},
    {"role": "assistant", "content": "Welcome to Lisbon, Dana! How are you settling in?"},
    {"role": "user", "content": "Great. I'm learning Portuguese and I adopted a cat, Miso."},
    {"role": "assistant", "content": "Lovely! Good luck with Portuguese, and hi to Miso."},
]


class Profile(BaseModel):
    """The user's profile."""

    name: str | None = None
    preferred_name: str | None = None
    city: str | None = None
    language: str | None = None
    timezone: str | None = None
    occupation: str | None = None
    pets: list[str] = []
    interests: list[str] = []


def scenarios() -> dict[str, dict[str, Any]]:
    existing = [(f"mem-{i}", Memory(content=f"User fact number {i}")) for i in range(50)]
    profile = Profile(
        name="Dana Silva",
        preferred_name="Dana",
        city="Porto",
        language="English",
        timezone="Europe/Lisbon",
        occupation="engineer",
        pets=[],
        interests=["climbing"],
    )
    return {
        "new": {
            "kwargs": {},
            "input": {"messages": CONVERSATION},
            "reply": [
                insert("User is named Dana and moved to Lisbon last month"),
                insert("User is learning Portuguese"),
                insert("User adopted a cat named Miso"),
            ],
        },
        "existing": {
            "kwargs": {"enable_deletes": True},
            "input": {"messages": CONVERSATION, "existing": existing},
            "reply": [
                update("mem-3", set={"content": "User lives in Lisbon"}),
                update("mem-7", set={"content": "User is learning Portuguese"}),
                delete("mem-9"),
            ],
        },
        "profile": {
            "kwargs": {"schemas": [Profile], "enable_inserts": False},
            "input": {"messages": CONVERSATION, "existing": [("profile", profile)]},
            "reply": [
                update(
                    "profile",
                    patches=[
                        {"op": "replace", "path": "/city", "value": "Lisbon"},
                        {"op": "add", "path": "/pets/-", "value": "Miso (cat)"},
                    ],
                )
            ],
        },
    }


def check(name: str, out: list[Any]) -> None:
    """Both libraries must produce the same result, or the comparison is meaningless."""
    if name == "new":
        assert len(out) == 3, out
    elif name == "existing":
        assert len(out) == 50, len(out)
        got = {m.id: m.content for m in out}["mem-3"]
        assert got.content == "User lives in Lisbon", got  # each library's own Memory class
    else:
        assert out[0].content.city == "Lisbon", out
        assert out[0].content.pets == ["Miso (cat)"], out


def timed(fn: Callable[[], Any], iterations: int) -> list[float]:
    for _ in range(min(30, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def timed_async(fn: Callable[[], Any], iterations: int) -> list[float]:
    async def run() -> list[float]:
        for _ in range(min(30, iterations)):
            await fn()
        samples = []
        for _ in range(iterations):
            start = time.perf_counter()
            await fn()
            samples.append((time.perf_counter() - start) * 1000)
        return samples

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    try:
        from langmem import create_memory_manager as langmem_manager
    except ImportError:
        print("langmem is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    bare = FakeChatModel(["ok"], cycle=True)
    bare_ms = statistics.median(timed(lambda: bare.invoke("hi"), args.iterations))
    print(f"fake model bare call: {bare_ms:.3f} ms (median)\n")
    print(f"{'scenario':<9} {'mode':<7} {'langmem ms':>11} {'retain ms':>10} {'ratio':>7}")
    rows = []
    for name, sc in scenarios().items():
        for mode in ("invoke", "ainvoke"):
            results = {}
            for lib, factory in (("langmem", langmem_manager), ("retain", retain_manager)):
                model = FakeChatModel([sc["reply"]], cycle=True)
                manager = factory(model, **sc["kwargs"])
                if mode == "invoke":
                    check(name, manager.invoke(sc["input"]))
                    samples = timed(lambda m=manager, i=sc["input"]: m.invoke(i), args.iterations)
                else:
                    check(name, asyncio.run(manager.ainvoke(sc["input"])))
                    samples = timed_async(
                        lambda m=manager, i=sc["input"]: m.ainvoke(i), args.iterations
                    )
                calls_per_run = len(model.calls) / (args.iterations + min(30, args.iterations) + 1)
                assert calls_per_run == 1.0, (lib, name, calls_per_run)
                results[lib] = statistics.median(samples)
            ratio = results["retain"] / results["langmem"]
            rows.append((name, mode, results["langmem"], results["retain"], ratio))
            print(
                f"{name:<9} {mode:<7} {results['langmem']:>11.3f} {results['retain']:>10.3f} "
                f"{ratio:>7.3f}"
            )
    worst = max(r[4] for r in rows)
    print(f"\nworst ratio retain/langmem: {worst:.3f} (target <= 0.100)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
