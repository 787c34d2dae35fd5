"""Store-manager and search-tool latency: retain vs langmem 0.0.30 on LangGraph's
InMemoryStore (what LangMem users get), in the same run; retain on its own SQLite store too.

Both use a zero-latency fake chat model (``retain.testing.FakeChatModel``) that inserts one
memory per call, and the same embedding model (retain's offline MiniLM, with vectors of
the pre-loaded memories computed once and shared), so the time measured is each library's
own work: recall, prompt building, parsing and writing. Columns: langmem on an
``InMemoryStore``; retain on another ``InMemoryStore`` with the same data (the like-for-like
ratio: retain must never be slower there); retain on a ``SQLiteStore`` file.

Run:  .venv/bin/python benchmarks/store_manager_bench.py [--iterations 30] [--sizes 10000]
(needs ``pip install -e '.[bench]'`` for langmem)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore

from retain import create_memory_store_manager, create_search_memory_tool
from retain.embeddings import MINILM_DIMS, LocalMiniLM
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel, insert

TOPICS = ["hiking", "cooking", "chess", "jazz", "python", "gardening", "cycling", "tea"]
CONVERSATION = [
    {"role": "user", "content": "I went hiking in the Alps last weekend and loved it."},
    {"role": "assistant", "content": "That sounds wonderful! Which trail did you take?"},
    {"role": "user", "content": "The Eiger trail. Next time I want to try via ferrata."},
]
CONFIG = {"configurable": {"langgraph_user_id": "bench-user"}}
NS = ("memories", "bench-user")


class CachedEmbeddings(Embeddings):
    """MiniLM with a cache, so pre-loading 10k memories is paid once for both stores."""

    model_id = LocalMiniLM.model_id
    dims = MINILM_DIMS

    def __init__(self) -> None:
        self.model = LocalMiniLM()
        self.cache: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.model.embed_documents(missing), strict=True))
        return [self.cache[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def memories(n: int) -> list[str]:
    return [f"User fact {i}: enjoys {TOPICS[i % len(TOPICS)]} on day {i % 31}" for i in range(n)]


def timed(fns: dict[str, Any], iterations: int) -> dict[str, float]:
    """Median ms of each function, the functions interleaved (their order rotating every
    iteration) so that load changes on a shared machine hit every column alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(iterations):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            fns[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(s) for name, s in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--sizes", default="0,1000,10000")
    args = parser.parse_args()
    try:
        from langmem import create_memory_store_manager as langmem_manager
        from langmem import create_search_memory_tool as langmem_search
    except ImportError:
        print("langmem is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    embed = CachedEmbeddings()
    sizes = [int(s) for s in args.sizes.split(",")]
    embed.embed_documents([*memories(max(sizes)), CONVERSATION[-1]["content"]])
    index = {"dims": MINILM_DIMS, "embed": embed}
    print(
        f"{'what':<14} {'N':>6} {'langmem ms':>11} {'retain(mem) ms':>15} {'ratio':>7} "
        f"{'retain(sqlite) ms':>18} {'ratio':>7}"
    )
    rows = []
    # One event loop for the whole run, as in a server or a long-lived agent process.
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            texts = memories(n)
            puts = [
                PutOp(NS, f"m{i}", {"kind": "Memory", "content": {"content": t}})
                for i, t in enumerate(texts)
            ]
            stores: dict[str, Any] = {
                "langmem": InMemoryStore(index=index),  # type: ignore[arg-type]
                "retain(mem)": InMemoryStore(index=index),  # type: ignore[arg-type]
                "retain(sqlite)": SQLiteStore(Path(tmp) / f"bench-{n}.db", index=index),
            }
            for store in stores.values():
                for start in range(0, len(puts), 1000):
                    store.batch(puts[start : start + 1000])
            invokes: dict[str, Any] = {}
            searches: dict[str, Any] = {}
            for lib, store in stores.items():
                model = FakeChatModel([[insert("User hiked the Eiger trail")]], cycle=True)
                factory = langmem_manager if lib == "langmem" else create_memory_store_manager
                manager = factory(model, namespace=("memories", "{langgraph_user_id}"), store=store)
                payload = {"messages": CONVERSATION}
                loop.run_until_complete(manager.ainvoke(payload, CONFIG))  # warm up

                def run(m: Any = manager, p: Any = payload) -> None:
                    loop.run_until_complete(m.ainvoke(p, CONFIG))

                invokes[lib] = run
                make_tool = langmem_search if lib == "langmem" else create_search_memory_tool
                tool = make_tool(namespace=("memories", "{langgraph_user_id}"), store=store)
                query = {"query": "hiking in the mountains", "limit": 10}
                searches[lib] = lambda t=tool, q=query: t.invoke(q, CONFIG)
            results = {
                "invoke": timed(invokes, args.iterations),
                "search tool": timed(searches, args.iterations),
            }
            for what, by_lib in results.items():
                base = by_lib["langmem"]
                mem, sql = by_lib["retain(mem)"], by_lib["retain(sqlite)"]
                rows.append((what, n, base, mem, sql))
                print(
                    f"{what:<14} {n:>6} {base:>11.2f} {mem:>15.2f} {mem / base:>7.3f} "
                    f"{sql:>18.2f} {sql / base:>7.3f}",
                    flush=True,
                )
    print(
        "\nratio = retain median / langmem median (lower is better); on the same "
        "InMemoryStore retain must not be slower (ratio <= 1)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
