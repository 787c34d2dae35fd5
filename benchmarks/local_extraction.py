"""Extraction quality and latency of the embedded models on a labelled set.

Runs retain's memory manager (``enable_deletes=True``, default ``Memory`` schema) with the
local models on ``benchmarks/data/local_extraction.jsonl``: 24 short conversations with
existing memories, labelled with what must happen (new facts, profile updates,
contradictions, deletions). Baseline: the untuned prompt (retain's JSON-schema prompt
alone, ``worked_example=False``) against the tuned one (plus the worked example of
``retain.local.prompts``), same model, same run.

Scoring (per conversation; keyword matching is case-insensitive, an expected fact is a list
of keyword groups and a text matches when every group has one of its alternatives in it):

* ``inserts``: each expected fact matches some inserted memory;
* ``updates``: memory ``id`` was updated to a text matching the keywords, or deleted and
  replaced by an inserted memory matching them (keeping the old text fails);
* ``deletes``: memory ``id`` was deleted;
* ``keep``: memory ``id`` was neither updated nor deleted;
* at most one insert more than the expected facts and updates need.

A conversation is correct when all of these hold; "items" is the share of single
expectations (facts, updates, deletes, keeps) met. A call that raises (e.g.
``ModelOutputError`` after the repairs) fails all of its expectations. Latency is per model
call (a repair is a separate call), measured around llama.cpp's ``create_chat_completion``.

Run:  flock /tmp/retain-heavy.lock env OMP_WAIT_POLICY=PASSIVE \\
      .venv/bin/python benchmarks/local_extraction.py [--models qwen2.5-0.5b qwen2.5-1.5b]
(needs ``pip install -e '.[local]'``)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from retain import Memory, create_memory_manager
from retain.core.types import Delete, ExtractionResult, Insert, Update
from retain.local import load_local_chat_model

DATA = Path(__file__).parent / "data" / "local_extraction.jsonl"
Keywords = list[list[str]]


def _text(content: Any) -> str:
    value = getattr(content, "content", content)
    return value if isinstance(value, str) else json.dumps(value)


def matches(text: str, groups: Keywords) -> bool:
    low = text.lower()
    return all(any(alt.lower() in low for alt in group) for group in groups)


def score(expect: dict[str, Any], result: ExtractionResult | None) -> tuple[bool, int, int]:
    """(conversation correct, items met, items total) for one conversation."""
    total = (
        len(expect["inserts"])
        + len(expect["updates"])
        + len(expect["deletes"])
        + len(expect["keep"])
    )
    if result is None:
        return False, 0, total
    inserted = [_text(op.content) for op in result.operations if isinstance(op, Insert)]
    updated = {op.id: _text(op.content) for op in result.operations if isinstance(op, Update)}
    deleted = {op.id for op in result.operations if isinstance(op, Delete)}
    met = 0
    for groups in expect["inserts"]:
        met += any(matches(t, groups) for t in inserted)
    for doc_id, groups in expect["updates"].items():
        in_place = doc_id in updated and matches(updated[doc_id], groups)
        replaced = doc_id in deleted and any(matches(t, groups) for t in inserted)
        met += in_place or replaced
    for doc_id in expect["deletes"]:
        met += doc_id in deleted
    for doc_id in expect["keep"]:
        met += doc_id not in deleted and doc_id not in updated
    allowed = len(expect["inserts"]) + len(expect["updates"]) + 1
    return met == total and len(inserted) <= allowed, met, total


class TimedClient:
    """Wraps a ``llama_cpp.Llama`` to time each chat completion."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds: list[float] = []
        self.tokens: list[int] = []

    def create_chat_completion(self, **kwargs: Any) -> Any:
        started = time.perf_counter()
        response = self.inner.create_chat_completion(**kwargs)
        self.seconds.append(time.perf_counter() - started)
        self.tokens.append(int((response.get("usage") or {}).get("completion_tokens", 0)))
        return response


def run_variant(model: Any, rows: list[dict[str, Any]], tuned: bool) -> dict[str, Any]:
    model.worked_example = tuned
    timed = TimedClient(
        model.client.inner if isinstance(model.client, TimedClient) else model.client
    )
    model.client = timed
    manager = create_memory_manager(model, enable_deletes=True)
    correct = met = total = 0
    per_category: dict[str, list[int]] = {}
    failures: list[str] = []
    for row in rows:
        # Real ids are UUIDs; the labels say m1, m2, ...
        ids = {
            m["id"]: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{row['id']}/{m['id']}"))
            for m in row["existing"]
        }
        existing = [(ids[m["id"]], Memory(content=m["content"])) for m in row["existing"]]
        expect = {
            "inserts": row["expect"]["inserts"],
            "updates": {ids[k]: v for k, v in row["expect"]["updates"].items()},
            "deletes": [ids[k] for k in row["expect"]["deletes"]],
            "keep": [ids[k] for k in row["expect"]["keep"]],
        }
        names = {v: k for k, v in ids.items()}
        calls_before = len(timed.seconds)
        try:
            result: ExtractionResult | None = manager.extract(
                {"messages": row["messages"], "existing": existing}
            )
        except Exception as e:  # scored as a failure, reported below
            result = None
            failures.append(f"{row['id']}: {type(e).__name__}")
        ok, m, t = score(expect, result)
        correct += ok
        met += m
        total += t
        cat = per_category.setdefault(row["category"], [0, 0])
        cat[0] += ok
        cat[1] += 1
        ops = [
            f"{type(o).__name__}:{names.get(o.id, 'new')}:{_text(getattr(o, 'content', ''))}"
            for o in (result.operations if result is not None else [])
        ]
        took = ", ".join(f"{t:.1f}" for t in timed.seconds[len(timed.seconds) - calls_before :])
        print(
            f"  {'ok ' if ok else 'BAD'} {row['id']} [{took} s]: {ops}", file=sys.stderr, flush=True
        )
    seconds = sorted(timed.seconds)
    return {
        "tuned": tuned,
        "conversations": len(rows),
        "correct": correct,
        "accuracy": correct / len(rows),
        "items": met / total,
        "per_category": {k: f"{v[0]}/{v[1]}" for k, v in per_category.items()},
        "calls": len(seconds),
        "p50_s": statistics.median(seconds),
        "p95_s": seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))],
        "mean_tokens": statistics.mean(timed.tokens),
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--limit", type=int, default=0, help="first N conversations only")
    parser.add_argument("--only", nargs="+", default=None, help="these conversation ids only")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--variants", nargs="+", default=["untuned", "tuned"])
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    if args.only:
        rows = [r for r in rows if r["id"] in args.only]
    if args.limit:
        rows = rows[: args.limit]
    results: list[dict[str, Any]] = []
    for name in args.models:
        started = time.perf_counter()
        model = load_local_chat_model(name, n_threads=args.threads)
        print(f"{name}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
        model.invoke("Say OK.", max_tokens=4)  # warm-up, not measured
        for label in args.variants:
            tuned = label == "tuned"
            print(f"{name} {label}:", file=sys.stderr, flush=True)
            results.append({"model": name, **run_variant(model, rows, tuned)})
    print(
        "\n| model | prompt | correct | accuracy | items | p50 s/call | p95 s/call | calls "
        "| tokens/call |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['model']} | {'tuned' if r['tuned'] else 'untuned (baseline)'} | "
            f"{r['correct']}/{r['conversations']} | {r['accuracy']:.2f} | {r['items']:.2f} | "
            f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['calls']} | {r['mean_tokens']:.0f} |"
        )
    print("\nratios tuned / untuned (same model, same run):")
    for base, tuned in zip(results[::2], results[1::2], strict=False):
        acc = tuned["accuracy"] / base["accuracy"] if base["accuracy"] else float("inf")
        slower = tuned["p50_s"] / base["p50_s"]
        print(
            f"  {base['model']}: accuracy x{acc:.2f}, p50 latency x{slower:.2f}; "
            f"per category untuned {base['per_category']} tuned {tuned['per_category']}"
        )
        for r in (base, tuned):
            if r["failures"]:
                print(
                    f"  {r['model']} {'tuned' if r['tuned'] else 'untuned'} errors: {r['failures']}"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
