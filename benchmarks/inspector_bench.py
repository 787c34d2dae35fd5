"""Inspector benchmark (issue 20): the ``/ui`` list and search pages over 10,000 memories in
one namespace, against the same list and search through the REST JSON API, same run.

A ``SQLiteStore`` file gets ``--memories`` memories in ``users.u1.memories`` (one batch
write; the embedding is a deterministic hashed bag of words, 384 dims, so the model is not
what is timed). ``create_app`` serves it with uvicorn on loopback (a thread of this
process; requests are sequential, so the client never competes with a running request).
Everything goes through a key scoped to ``users.{key_subject}`` (subject ``u1``), so each
request pays the key lookup, as a signed-in user's does.

Timed, ``--requests`` each after 5 warm-ups: the server time of each answer (its
``Server-Timing: app;dur=`` header, set by the app's middleware from the request's arrival
to the response's start: the whole page render) and the client's wall time.

* UI list page 1: ``GET /ui/memories?ns=users.u1.memories`` (25 a page, newest first);
  baseline ``GET /v1/memories?prefix=users.u1.memories&limit=25``.
* UI list, deep pages: a random page of the 400 (offset up to 9,975); baseline the same
  offsets through ``/v1/memories``.
* UI search: ``GET /ui/memories?ns=...&q=<two words>`` (hybrid recall, 25 results, with the
  vector and keyword parts); baseline ``POST /v1/memories/search`` (same query, limit 25).
* For information: the namespace tree (``/ui/namespaces``) and its JSON
  (``/v1/namespaces/summary``), ``/v1/stats``, and a memory's detail page. The tree and
  stats are counted by the store in SQL (``RetainStore.namespace_summary``): they used to
  read every memory under the key's prefixes (132 ms p50 at 10k, growing with the store).

Target: list and search pages under 300 ms server time (p95).

Run:  PYTHONPATH=src .venv/bin/python benchmarks/inspector_bench.py [--memories 10000]
          [--requests 50]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

DIMS = 384
NS = ("users", "u1", "memories")
WORDS = [
    "tea",
    "coffee",
    "cat",
    "dog",
    "lisbon",
    "berlin",
    "piano",
    "guitar",
    "running",
    "swimming",
    "vegan",
    "pasta",
    "sushi",
    "python",
    "rust",
    "chess",
    "football",
    "garden",
    "paris",
    "tokyo",
    "sister",
    "brother",
    "doctor",
    "teacher",
    "bicycle",
    "train",
    "morning",
    "evening",
    "birthday",
    "concert",
    "novel",
    "poetry",
    "hiking",
    "skiing",
    "yoga",
    "cooking",
    "baking",
    "painting",
    "photography",
    "jazz",
    "opera",
    "museum",
    "beach",
    "mountain",
    "river",
    "forest",
    "winter",
    "summer",
]
ADMIN = "inspector-bench-admin-key-0123456789"


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic embedding: hashed bag of words, L2-normalised."""
    out = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.lower().split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMS] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        out.append([v / norm for v in vec])
    return out


def _text(rng: random.Random) -> str:
    words = rng.sample(WORDS, 3)
    return f"User mentioned {words[0]} and {words[1]} while talking about {words[2]}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class _Server:
    def __init__(self, store: Any) -> None:
        import uvicorn

        from retain.server import create_app

        self.app = create_app(store, admin_key=ADMIN, mcp=False, worker=False)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def _measure(
    label: str, requests: int, call: Any, rng: random.Random, check: Any = None
) -> dict[str, Any]:
    server: list[float] = []
    wall: list[float] = []
    for i in range(requests + 5):
        started = time.perf_counter()
        answer = call(rng)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (label, answer.status_code, answer.text[:300])
        if check is not None:
            check(answer)
        if i < 5:
            continue  # warm-up
        timing = answer.headers["server-timing"]
        server.append(float(timing.split("dur=")[1]))
        wall.append(elapsed)
    row = {
        "label": label,
        "p50": statistics.median(server),
        "p95": _pct(server, 0.95),
        "wall50": statistics.median(wall),
        "wall95": _pct(wall, 0.95),
    }
    print(
        f"  {label:<34} server p50 {row['p50']:7.1f} ms  p95 {row['p95']:7.1f} ms   "
        f"(client wall p50 {row['wall50']:7.1f}, p95 {row['wall95']:7.1f})",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    from langgraph.store.base import PutOp

    from retain.stores import SQLiteStore

    rng = random.Random(20)
    work = Path(tempfile.mkdtemp(prefix="retain-inspector-bench-"))
    store = SQLiteStore(
        work / "memories.db", index={"dims": DIMS, "embed": embed, "fields": ["content"]}
    )
    started = time.perf_counter()
    for start in range(0, args.memories, 1000):
        store.batch(
            [
                PutOp(NS, f"m{i:05d}", {"content": _text(rng)})
                for i in range(start, min(start + 1000, args.memories))
            ]
        )
    print(
        f"inspector: {args.memories} memories in {'.'.join(NS)} "
        f"(SQLite, hashed bag-of-words embedding, {DIMS} dims), written in "
        f"{time.perf_counter() - started:.1f} s; {args.requests} requests each",
        flush=True,
    )
    served = _Server(store)
    try:
        with httpx.Client(base_url=served.url, timeout=60) as admin:
            admin.headers["Authorization"] = f"Bearer {ADMIN}"
            made = admin.post(
                "/v1/keys",
                json={"name": "u1", "prefixes": [["users", "{key_subject}"]], "subject": "u1"},
            ).json()
        secret = made["secret"]
        api = httpx.Client(
            base_url=served.url, timeout=60, headers={"Authorization": f"Bearer {secret}"}
        )
        ui = httpx.Client(base_url=served.url, timeout=60, headers={"Origin": served.url})
        signed = ui.post("/ui/login", data={"api_key": secret})
        assert signed.status_code == 303, signed.text
        pages = math.ceil(args.memories / 25)
        dotted = ".".join(NS)

        def query(r: random.Random) -> str:
            return " ".join(r.sample(WORDS, 2))

        def rows(n: int) -> Any:
            def check(answer: httpx.Response) -> None:
                assert answer.text.count('class="memory-link"') == n, "missing rows"

            return check

        def parts(answer: httpx.Response) -> None:
            assert 'class="vector"' in answer.text
            assert 'class="keyword"' in answer.text

        results = [
            _measure(
                "UI list page 1",
                args.requests,
                lambda r: ui.get("/ui/memories", params={"ns": dotted}),
                rng,
                rows(25),
            ),
            _measure(
                "REST list first 25 (baseline)",
                args.requests,
                lambda r: api.get("/v1/memories", params={"prefix": dotted, "limit": 25}),
                rng,
            ),
            _measure(
                "UI list, random page of all",
                args.requests,
                lambda r: ui.get(
                    "/ui/memories", params={"ns": dotted, "page": r.randint(1, pages)}
                ),
                rng,
            ),
            _measure(
                "REST list, same offsets (baseline)",
                args.requests,
                lambda r: api.get(
                    "/v1/memories",
                    params={"prefix": dotted, "limit": 25, "offset": 25 * r.randint(0, pages - 1)},
                ),
                rng,
            ),
            _measure(
                "UI search (hybrid, 25)",
                args.requests,
                lambda r: ui.get("/ui/memories", params={"ns": dotted, "q": query(r)}),
                rng,
                parts,
            ),
            _measure(
                "REST search (hybrid, 25, baseline)",
                args.requests,
                lambda r: api.post(
                    "/v1/memories/search", json={"prefix": list(NS), "query": query(r), "limit": 25}
                ),
                rng,
            ),
            _measure(
                "UI memory detail (info)",
                args.requests,
                lambda r: ui.get(
                    "/ui/memory",
                    params={"ns": dotted, "key": f"m{r.randrange(args.memories):05d}"},
                ),
                rng,
            ),
            _measure(
                "UI namespace tree (info)",
                max(10, args.requests // 5),
                lambda r: ui.get("/ui/namespaces"),
                rng,
            ),
            _measure(
                "REST namespace summary (info)",
                max(10, args.requests // 5),
                lambda r: api.get("/v1/namespaces/summary"),
                rng,
            ),
            _measure(
                "REST stats (info)",
                max(10, args.requests // 5),
                lambda r: api.get("/v1/stats", params={"prefix": "users.u1"}),
                rng,
            ),
        ]
    finally:
        served.stop()
        store.close()
    by = {r["label"]: r for r in results}
    print("ratios (UI / REST server p50):")
    for ui_label, api_label in [
        ("UI list page 1", "REST list first 25 (baseline)"),
        ("UI list, random page of all", "REST list, same offsets (baseline)"),
        ("UI search (hybrid, 25)", "REST search (hybrid, 25, baseline)"),
    ]:
        print(f"  {ui_label:<34} {by[ui_label]['p50'] / by[api_label]['p50']:.2f}x")
    worst = max(by[k]["p95"] for k in by if k.startswith("UI") and "info" not in k)
    verdict = "met" if worst < 300 else "NOT met"
    print(f"target: list and search pages p95 < 300 ms server time: {verdict} ({worst:.1f} ms)")
    sys.exit(0 if worst < 300 else 1)


if __name__ == "__main__":
    main()
