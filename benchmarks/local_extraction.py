"""Extraction quality and latency of the embedded models on a labelled set (issue 17).

Runs retain's memory manager (``enable_deletes=True``, default ``Memory`` schema, in the
store manager's fact mode: first-person wording becomes "User ...", an update naming
another subject becomes an insert) with the local models on two labelled parts:

* **tuning** (``benchmarks/data/local_extraction.jsonl``, 40 conversations): the prompts
  and the pre- and post-processing of ``retain.local`` were tuned on these;
* **held-out** (``benchmarks/data/local_extraction_heldout.jsonl``, 44 conversations):
  written in one go before any model saw them; no prompt is ever tuned on them.

Each row has existing memories (ids ``m1``, ``m2``, ... in the labels, UUIDs in the run), a
conversation, a ``category`` (new_fact, multi_fact, update, contradiction, deletion,
relative_date, assistant_fact, nothing), optionally ``said_at`` (when the conversation
took place) and what must happen (``expect``).

Scoring (per conversation; keyword matching is case-insensitive, an expected fact is a list
of keyword groups and a text matches when every group has one of its alternatives in it;
"written" texts are the inserted ones plus the new texts of updated memories):

* ``inserts``: each expected fact matches some inserted memory;
* ``facts``: each expected fact matches some written text (insert or update: either is
  right, e.g. "also learning Quechua" may extend the Spanish memory or be a new one);
* ``updates``: memory ``id`` was superseded by a text matching the keywords: updated in
  place to it (the store manager then ends the old value with ``valid_to`` and
  ``superseded_by``), or deleted and replaced by an inserted memory matching them. Keeping
  the old memory unchanged next to a new insert fails: the old fact would stay current
  (this is how contradictions are scored);
* ``deletes``: memory ``id`` was deleted;
* ``keep``: memory ``id`` was neither updated nor deleted;
* ``dated``: ``{day: fact}``: some written text matches the fact and dates it to ``day``
  (``YYYY-MM-DD``, or ``YYYY-MM`` for a month): either the text names the date
  ("2026-11-15", "November 15", "15 November") or a relative time in it ("last Sunday")
  resolves to it against the row's ``said_at`` with :func:`retain.core.temporal.
  resolve_relative`, which is how the store manager sets ``valid_from``;
* ``forbid``: no written text matches these keywords (a fact the assistant assumed and the
  user denied must not be recorded);
* ``nothing``: the answer has no operation at all (one item);
* at most one insert more than the expected facts, updates and dated facts need (none for
  ``nothing`` rows: a restated known fact must not be stored twice).

A conversation is correct when all of these hold; "items" is the share of single
expectations (facts, updates, deletes, keeps, dates, forbids, nothing) met. A call that
raises (e.g. ``ModelOutputError`` after the repairs) fails all of its expectations. Latency
is per model call (a repair is a separate call), measured around llama.cpp's
``create_chat_completion``.

Run:  flock /tmp/retain-heavy.lock env OMP_WAIT_POLICY=PASSIVE \\
      .venv/bin/python benchmarks/local_extraction.py [--models qwen2.5-0.5b qwen2.5-1.5b] \\
      [--split tuning|heldout|both] [--variants tuned untuned]
(needs ``pip install -e '.[local]'``)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from retain import Memory, create_memory_manager
from retain.core.temporal import as_utc, resolve_relative
from retain.core.types import Delete, ExtractionResult, Insert, Update
from retain.local import load_local_chat_model

DATA = Path(__file__).parent / "data"
SPLITS = {
    "tuning": DATA / "local_extraction.jsonl",
    "heldout": DATA / "local_extraction_heldout.jsonl",
}
CATEGORIES = (
    "new_fact",
    "multi_fact",
    "update",
    "contradiction",
    "deletion",
    "relative_date",
    "assistant_fact",
    "nothing",
)
Keywords = list[list[str]]


def _text(content: Any) -> str:
    value = getattr(content, "content", content)
    return value if isinstance(value, str) else json.dumps(value)


def matches(text: str, groups: Keywords) -> bool:
    low = text.lower()
    return all(any(alt.lower() in low for alt in group) for group in groups)


def _date_forms(day: str) -> list[str]:
    """How a text may name ``day`` (``YYYY-MM-DD`` or ``YYYY-MM``) explicitly."""
    if len(day) == 7:
        first = date.fromisoformat(day + "-01")
        return [day, f"{first:%B %Y}", f"{first:%b %Y}"]
    d = date.fromisoformat(day)
    return [day, f"{d:%B} {d.day}", f"{d.day} {d:%B}", f"{d:%b} {d.day}", f"{d.day} {d:%b}"]


def dates_to(text: str, day: str, said_at: datetime | None) -> bool:
    """Whether ``text`` dates its fact to ``day``: named, or a relative time resolving to it.

    Example:
        >>> from datetime import datetime
        >>> dates_to("User ran a marathon last Sunday", "2026-11-15", datetime(2026, 11, 18))
        True
        >>> dates_to("User ran a marathon on November 15", "2026-11-15", None)
        True
        >>> dates_to("User ran a marathon", "2026-11-15", datetime(2026, 11, 18))
        False
    """
    low = text.lower()
    if any(form.lower() in low for form in _date_forms(day)):
        return True
    resolved = resolve_relative(text, said_at) if said_at is not None else None
    return resolved is not None and resolved.isoformat().startswith(day)


def expectations(expect: dict[str, Any]) -> int:
    """How many single expectations (items) a row has."""
    return (
        len(expect["inserts"])
        + len(expect.get("facts", []))
        + len(expect["updates"])
        + len(expect["deletes"])
        + len(expect["keep"])
        + len(expect.get("dated", {}))
        + len(expect.get("forbid", []))
        + bool(expect.get("nothing"))
    )


def score(
    expect: dict[str, Any], result: ExtractionResult | None, said_at: datetime | None = None
) -> tuple[bool, int, int]:
    """(conversation correct, items met, items total) for one conversation."""
    total = expectations(expect)
    if result is None:
        return False, 0, total
    inserted = [_text(op.content) for op in result.operations if isinstance(op, Insert)]
    updated = {op.id: _text(op.content) for op in result.operations if isinstance(op, Update)}
    deleted = {op.id for op in result.operations if isinstance(op, Delete)}
    written = inserted + list(updated.values())
    met = 0
    for groups in expect["inserts"]:
        met += any(matches(t, groups) for t in inserted)
    for groups in expect.get("facts", []):
        met += any(matches(t, groups) for t in written)
    for doc_id, groups in expect["updates"].items():
        in_place = doc_id in updated and matches(updated[doc_id], groups)
        replaced = doc_id in deleted and any(matches(t, groups) for t in inserted)
        met += in_place or replaced
    for doc_id in expect["deletes"]:
        met += doc_id in deleted
    for doc_id in expect["keep"]:
        met += doc_id not in deleted and doc_id not in updated
    for day, groups in expect.get("dated", {}).items():
        met += any(matches(t, groups) and dates_to(t, day, said_at) for t in written)
    for groups in expect.get("forbid", []):
        met += not any(matches(t, groups) for t in written)
    if expect.get("nothing"):
        met += not result.operations
    needed = (
        len(expect["inserts"])
        + len(expect.get("facts", []))
        + len(expect["updates"])
        + len(expect.get("dated", {}))
    )
    allowed = needed + (0 if expect.get("nothing") else 1)
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


def _ids(row: dict[str, Any]) -> dict[str, str]:
    # Real ids are UUIDs; the labels say m1, m2, ...
    return {
        m["id"]: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{row['id']}/{m['id']}"))
        for m in row["existing"]
    }


def _expect(row: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    expect = dict(row["expect"])
    expect["updates"] = {ids[k]: v for k, v in expect["updates"].items()}
    expect["deletes"] = [ids[k] for k in expect["deletes"]]
    expect["keep"] = [ids[k] for k in expect["keep"]]
    return expect


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def run_variant(model: Any, rows: list[dict[str, Any]], tuned: bool) -> dict[str, Any]:
    model.worked_example = tuned
    timed = TimedClient(
        model.client.inner if isinstance(model.client, TimedClient) else model.client
    )
    model.client = timed
    manager = create_memory_manager(model, enable_deletes=True)
    manager.spec = dataclasses.replace(manager.spec, facts=True)  # as the store manager runs
    correct = met = total = 0
    per_category: dict[str, list[int]] = {}
    failures: list[str] = []
    wrong: list[str] = []
    for row in rows:
        ids = _ids(row)
        existing = [(ids[m["id"]], Memory(content=m["content"])) for m in row["existing"]]
        expect = _expect(row, ids)
        said_at = as_utc(row["said_at"]) if row.get("said_at") else None
        names = {v: k for k, v in ids.items()}
        calls_before = len(timed.seconds)
        try:
            result: ExtractionResult | None = manager.extract(
                {"messages": row["messages"], "existing": existing}
            )
        except Exception as e:  # scored as a failure, reported below
            result = None
            failures.append(f"{row['id']}: {type(e).__name__}")
        ok, m, t = score(expect, result, said_at)
        correct += ok
        met += m
        total += t
        cat = per_category.setdefault(row["category"], [0, 0, 0, 0])
        cat[0] += ok
        cat[1] += 1
        cat[2] += m
        cat[3] += t
        if not ok:
            wrong.append(row["id"])
        ops = [
            f"{type(o).__name__}:{names.get(o.id, 'new')}:{_text(getattr(o, 'content', ''))}"
            for o in (result.operations if result is not None else [])
        ]
        took = ", ".join(f"{t:.1f}" for t in timed.seconds[calls_before:])
        print(
            f"  {'ok ' if ok else 'BAD'} {row['id']} [{took} s]: {ops}", file=sys.stderr, flush=True
        )
    seconds = timed.seconds
    return {
        "tuned": tuned,
        "conversations": len(rows),
        "correct": correct,
        "accuracy": correct / len(rows),
        "items_met": met,
        "items_total": total,
        "items": met / total,
        "per_category": {
            k: {"correct": v[0], "conversations": v[1], "items_met": v[2], "items_total": v[3]}
            for k, v in sorted(per_category.items(), key=lambda kv: CATEGORIES.index(kv[0]))
        },
        "calls": len(seconds),
        "p50_s": statistics.median(seconds) if seconds else 0.0,
        "p95_s": _percentile(seconds, 0.95),
        "mean_tokens": statistics.mean(timed.tokens) if timed.tokens else 0.0,
        "wrong": wrong,
        "failures": failures,
    }


def load_rows(split: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in SPLITS[split].read_text().splitlines() if line.strip()]
    for row in rows:
        row["split"] = split
    return rows


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def print_tables(results: list[dict[str, Any]]) -> None:
    print(
        "\n| model | split | prompt | conversations right | items | p50 s/call | p95 s/call "
        "| calls | tokens/call | load avg (1/5/15 min) at the end |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['split']} | {'tuned' if r['tuned'] else 'untuned'} | "
            f"{r['correct']}/{r['conversations']} ({r['accuracy']:.0%}) | "
            f"{r['items_met']}/{r['items_total']} ({r['items']:.0%}) | {r['p50_s']:.2f} | "
            f"{r['p95_s']:.2f} | {r['calls']} | {r['mean_tokens']:.0f} | {r['load']} |"
        )
    cats = [c for c in CATEGORIES if any(c in r["per_category"] for r in results)]
    print("\nPer category: conversations right, items met.\n")
    print("| model | split | " + " | ".join(cats) + " |")
    print("|---|---|" + "---|" * len(cats))
    for r in results:
        cells = []
        for c in cats:
            v = r["per_category"].get(c)
            cells.append(
                f"{v['correct']}/{v['conversations']}, {v['items_met']}/{v['items_total']}"
                if v
                else "-"
            )
        print(f"| {r['model']} | {r['split']} | " + " | ".join(cells) + " |")
    for r in results:
        print(f"\n{r['model']} {r['split']}: wrong {r['wrong']}; errors {r['failures']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--split", choices=["tuning", "heldout", "both"], default="both")
    parser.add_argument("--limit", type=int, default=0, help="first N conversations only")
    parser.add_argument("--only", nargs="+", default=None, help="these conversation ids only")
    parser.add_argument("--category", nargs="+", default=None, help="these categories only")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--variants", nargs="+", default=["tuned"], help="tuned and/or untuned")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    splits = ["tuning", "heldout"] if args.split == "both" else [args.split]
    results: list[dict[str, Any]] = []
    for name in args.models:
        started = time.perf_counter()
        model = load_local_chat_model(name, n_threads=args.threads)
        print(f"{name}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
        model.invoke("Say OK.", max_tokens=4)  # warm-up, not measured
        for split in splits:
            rows = load_rows(split)
            if args.only:
                rows = [r for r in rows if r["id"] in args.only]
            if args.category:
                rows = [r for r in rows if r["category"] in args.category]
            if args.limit:
                rows = rows[: args.limit]
            if not rows:
                continue
            for label in args.variants:
                print(f"{name} {split} {label}: load {_load_average()}", file=sys.stderr)
                began = time.perf_counter()
                result = run_variant(model, rows, label == "tuned")
                result.update(
                    model=name,
                    split=split,
                    load=_load_average(),
                    wall_s=round(time.perf_counter() - began, 1),
                )
                results.append(result)
                if args.json:  # after every part, so a long run leaves what it measured
                    args.json.write_text(json.dumps(results, indent=2))
    print_tables(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
