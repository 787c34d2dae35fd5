"""The labelled extraction set and its scorer (benchmarks/local_extraction.py), no model."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from retain import Memory
from retain.core.types import Delete, ExtractionResult, Insert, Update

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    name = "retain_bench_local_extraction"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "local_extraction.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()


def _rows(split: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = bench.load_rows(split)
    return rows


def test_the_set_has_both_parts_and_every_category() -> None:
    tuning, heldout = _rows("tuning"), _rows("heldout")
    assert len(tuning) + len(heldout) >= 80
    assert len(heldout) >= 40
    ids = [r["id"] for r in tuning + heldout]
    assert len(ids) == len(set(ids))
    for rows in (tuning, heldout):
        counts = Counter(r["category"] for r in rows)
        assert set(counts) == set(bench.CATEGORIES), counts


@pytest.mark.parametrize("split", ["tuning", "heldout"])
def test_every_label_is_well_formed(split: str) -> None:
    for row in _rows(split):
        existing = {m["id"] for m in row["existing"]}
        expect = row["expect"]
        named = set(expect["updates"]) | set(expect["deletes"]) | set(expect["keep"])
        assert named <= existing, row["id"]
        assert not set(expect["keep"]) & (set(expect["updates"]) | set(expect["deletes"]))
        assert bench.expectations(expect) > 0, row["id"]
        if expect.get("dated"):
            assert bench.as_utc(row["said_at"]), row["id"]
        if expect.get("nothing"):
            assert not expect["inserts"], row["id"]
            assert not expect["updates"], row["id"]
            assert not expect["deletes"], row["id"]
        assert row["messages"][0]["role"] == "user"


def _result(*ops: Any) -> ExtractionResult:
    return ExtractionResult(memories=[], operations=list(ops))


def _memory(text: str) -> Memory:
    return Memory(content=text)


def test_a_contradiction_kept_next_to_the_new_fact_fails() -> None:
    expect = {"inserts": [], "updates": {"a": [["coffee"]]}, "deletes": [], "keep": ["b"]}
    old = _memory("User drinks green tea every morning.")
    coffee = _memory("User drinks coffee every morning now.")
    inserted_only = _result(Insert("n1", "Memory", coffee))
    assert bench.score(expect, inserted_only)[:2] == (False, 1)
    superseded = _result(Update("a", "Memory", coffee, old))
    assert bench.score(expect, superseded) == (True, 2, 2)
    replaced = _result(Delete("a", "Memory", old), Insert("n1", "Memory", coffee))
    assert bench.score(expect, replaced)[0]


def test_nothing_to_do_allows_no_operation() -> None:
    expect = {"inserts": [], "updates": {}, "deletes": [], "keep": ["a"], "nothing": True}
    assert bench.score(expect, _result()) == (True, 2, 2)
    again = _result(Insert("n1", "Memory", _memory("User lives in Berlin.")))
    assert bench.score(expect, again) == (False, 1, 2)


def test_a_relative_date_must_resolve_to_the_labelled_day() -> None:
    said = datetime(2026, 11, 18, 9, tzinfo=timezone.utc)  # a Wednesday
    expect = {
        "inserts": [],
        "updates": {},
        "deletes": [],
        "keep": [],
        "dated": {"2026-11-15": [["marathon"]]},
    }

    def one(text: str) -> bool:
        ok: bool = bench.score(expect, _result(Insert("n", "Memory", _memory(text))), said)[0]
        return ok

    assert one("User ran their first marathon last Sunday.")
    assert one("User ran their first marathon on 15 November 2026.")
    assert not one("User ran their first marathon.")  # the date is lost
    assert not one("User ran their first marathon last Saturday.")  # the wrong day
    month = {**expect, "dated": {"2026-10": [["moved"]]}}
    moved = _result(Insert("n", "Memory", _memory("User moved to Lisbon last month.")))
    assert bench.score(month, moved, said)[0]


def test_a_denied_assumption_must_not_be_written() -> None:
    expect = {
        "inserts": [[["museum"]]],
        "updates": {},
        "deletes": [],
        "keep": [],
        "forbid": [[["likes hiking", "loves hiking"]]],
    }
    good = _result(Insert("n", "Memory", _memory("User prefers museums to hiking.")))
    assert bench.score(expect, good) == (True, 2, 2)
    bad = _result(
        Insert("n", "Memory", _memory("User prefers museums.")),
        Insert("o", "Memory", _memory("User loves hiking.")),
    )
    assert bench.score(expect, bad) == (False, 1, 2)


def test_facts_may_be_written_by_insert_or_update() -> None:
    expect = {"inserts": [], "updates": {}, "deletes": [], "keep": [], "facts": [[["quechua"]]]}
    old = _memory("User is learning Spanish.")
    both = _memory("User is learning Spanish and Quechua.")
    assert bench.score(expect, _result(Update("a", "Memory", both, old)))[0]
    assert bench.score(expect, _result(Insert("n", "Memory", both)))[0]
    assert not bench.score(expect, _result())[0]


def test_a_failed_call_fails_every_item() -> None:
    expect = {"inserts": [[["x"]]], "updates": {}, "deletes": [], "keep": ["a", "b"]}
    assert bench.score(expect, None) == (False, 0, 3)
