"""The pure rules behind temporal facts and safe operations: times, short ids, subjects."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage

from retain import Memory
from retain.core.aliases import Aliases
from retain.core.extraction import ExtractionSpec, extract_memories, normalize_existing
from retain.core.facts import fact_subject, same_subject, same_topic, third_person
from retain.core.schemas import SchemaSet
from retain.core.temporal import holds, resolve_relative
from retain.core.types import Insert, Update
from retain.testing import FakeChatModel, insert, update

MONDAY = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)


def test_relative_times_resolve_against_the_conversation_time() -> None:
    assert resolve_relative("User ran a race last Saturday", MONDAY) == date(2026, 12, 5)
    assert resolve_relative("User flies to Rome next Monday", MONDAY) == date(2026, 12, 14)
    assert resolve_relative("User got a dog yesterday", MONDAY) == date(2026, 12, 6)
    assert resolve_relative("User moved 3 weeks ago", MONDAY) == date(2026, 11, 16)
    assert resolve_relative("User moved last year", MONDAY) == date(2025, 1, 1)
    # the same words said on another day name another day
    assert resolve_relative("last Saturday", datetime(2026, 1, 1)) == date(2025, 12, 27)
    assert resolve_relative("User likes Saturdays", MONDAY) is None


def test_holds_keeps_current_facts_and_those_valid_as_of() -> None:
    old = {"said_at": "2026-01-01T00:00:00+00:00", "valid_to": "2026-06-01T00:00:00+00:00"}
    replaced = {**old, "superseded_by": "k2"}
    new = {"said_at": "2026-06-02T00:00:00+00:00", "valid_from": "2026-06-01"}
    plain = {"content": "no temporal fields"}
    assert not holds(replaced, now=MONDAY)
    assert holds(replaced, now=MONDAY, include_superseded=True)
    assert holds(replaced, now=MONDAY, as_of=datetime(2026, 3, 1))
    assert not holds(new, now=MONDAY, as_of=datetime(2026, 3, 1))
    assert holds(new, now=MONDAY)
    assert holds(plain, now=MONDAY, as_of=datetime(2000, 1, 1))
    # an end in the future (a stated end, no successor) is still current now
    assert holds({"valid_to": "2027-01-01"}, now=MONDAY)


def test_aliases_never_equal_a_real_id_and_carry_over() -> None:
    aliases = Aliases(["m2", "3f0c2a9e", "m1"])
    shown = [aliases.show(i) for i in ("m2", "3f0c2a9e", "m1")]
    assert shown == ["m3", "m4", "m5"]
    assert [aliases.real(s) for s in shown] == ["m2", "3f0c2a9e", "m1"]
    assert aliases.real("m1") == "m1"  # a real id the model copied is kept
    later = Aliases(["3f0c2a9e", "new"], known=aliases.mapping())
    assert later.show("3f0c2a9e") == "m4"
    assert later.show("new") not in {"m3", "m4", "m5"}  # taken earlier, even if gone now


@given(st.lists(st.from_regex(r"m?[0-9]{1,2}|[a-f0-9-]{1,8}", fullmatch=True), unique=True))
def test_aliases_round_trip_and_never_shadow_a_real_id(ids: list[str]) -> None:
    aliases = Aliases(ids)
    shown = [aliases.show(i) for i in ids]
    assert len(set(shown)) == len(ids)
    assert not set(shown) & set(ids)
    assert [aliases.real(s) for s in shown] == ids


def test_subjects_and_third_person() -> None:
    assert fact_subject("User's name is Maya Okafor.") == "user's name"
    assert fact_subject("User drinks green tea every morning.") == "user"
    assert fact_subject("Alice manages the ML team") == "alice"
    assert same_subject({"content": "User lives in Berlin"}, {"content": "User lives in Lisbon"})
    assert not same_subject({"content": "User's name is Maya"}, {"content": "User drinks tea"})
    assert not same_subject({"subject": "Alice"}, {"subject": "Bob"})
    assert same_subject({"content": "likes tea"}, {"content": "User likes coffee"})  # unknown
    assert third_person("I'm from Porto and my sister lives with me") == (
        "User is from Porto and User's sister lives with User"
    )


def _run(spec: ExtractionSpec, existing: list[object], replies: list[object], steps: int = 1):  # type: ignore[no-untyped-def]
    model = FakeChatModel(replies)
    flow = extract_memories(
        spec,
        [HumanMessage("hi")],
        normalize_existing(existing, spec.kinds),
        max_steps=steps,
        new_id=iter(f"new-{i}" for i in range(1, 9)).__next__,
    )
    request = next(flow)
    try:
        while True:
            reply = model.invoke(list(request.messages), tools=list(request.tools))
            request = flow.send(reply)
    except StopIteration as stop:
        return stop.value, model


def test_the_model_sees_short_ids_mapped_back_across_steps() -> None:
    spec = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x")
    key = "0b7e54f2-5a0c-4f4e-9f51-7d1c2a9b8e11"
    result, model = _run(
        spec,
        [(key, Memory(content="User likes tea"))],
        [
            [update("m1", "User likes green tea"), insert("User has a cat")],
            lambda call: [update("m2", "User has a cat named Tom")],  # the new one, step 2
        ],
        steps=2,
    )
    assert key not in model.calls[0].text
    assert key not in model.calls[1].text
    assert [m["id"] for m in model.calls[1].memories()] == ["m1", "m2"]
    assert result.operations == [
        Update(
            key, "Memory", Memory(content="User likes green tea"), Memory(content="User likes tea")
        ),
        Insert("new-1", "Memory", Memory(content="User has a cat named Tom")),
    ]
    assert result.aliases == {key: "m1", "new-1": "m2"}


def test_a_wrong_subject_update_becomes_an_insert_in_fact_mode() -> None:
    name = ("k-name", Memory(content="User's name is Maya Okafor."))
    wrong = [[update("m1", "User drinks green tea every morning.")]]
    facts = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x", facts=True)
    result, _ = _run(facts, [name], wrong)
    assert [m.content.content for m in result.memories] == [
        "User's name is Maya Okafor.",
        "User drinks green tea every morning.",
    ]
    assert [type(op).__name__ for op in result.operations] == ["Insert"]
    # the functional manager's results are unchanged: without fact mode it is an update
    plain = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x")
    result, _ = _run(plain, [name], wrong)
    assert [type(op).__name__ for op in result.operations] == ["Update"]


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        ("User lives in Berlin.", "User lives in Lisbon.", True),  # the same verb
        ("User lives in Berlin.", "User moved to Munich.", True),  # a home, both
        ("User works at Acme.", "User got a job at Globex.", True),  # a job, both
        ("User prefers tea.", "User drinks coffee (switched from tea).", True),  # a change
        ("User has a cat named Tofu.", "User adopted a second cat, Miso.", True),  # a word
        ("User lives in Toronto.", "User has played the violin for two years.", False),
        ("User works as a chef.", "User got a pilot's licence yesterday.", False),
    ],
)
def test_an_update_must_be_about_the_same_thing(before: str, after: str, same: bool) -> None:
    assert same_topic(before, after) is same
    assert same_subject({"content": before}, {"content": after}) is same


def test_an_unrelated_update_becomes_an_insert_in_fact_mode() -> None:
    city = ("k-city", Memory(content="User lives in Toronto."))
    wrong = [[update("m1", "User has been learning the violin for two years.")]]
    facts = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x", facts=True)
    result, _ = _run(facts, [city], wrong)
    assert [type(op).__name__ for op in result.operations] == ["Insert"]
    assert result.memories[0].content.content == "User lives in Toronto."
    right = [[update("m1", "User lives in Montreal now.")]]
    result, _ = _run(facts, [city], right)
    assert [type(op).__name__ for op in result.operations] == ["Update"]


def test_ranking_reads_the_date_of_a_stored_time() -> None:
    from retain.core.ranking import analyse_query

    assert analyse_query("said 2026-12-07T18:00:00+00:00").dates == ((2026, 12, 7),)
    assert analyse_query("on 2026-12-05").dates == ((2026, 12, 5),)


def test_profile_rules_and_repair_messages_name_short_ids() -> None:
    spec = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x", enable_inserts=False)
    key = "5d2f8a61-profile"
    result, model = _run(
        spec,
        [(key, Memory(content="User likes tea"))],
        [[insert("User likes coffee")], [update("m1", "User likes coffee")]],
    )
    assert "Keep exactly one Memory (id m1)" in model.calls[0].text
    repair = model.calls[1].text
    assert "already exists (id m1)" in repair
    assert key not in repair
    assert result.operations == [
        Update(key, "Memory", Memory(content="User likes coffee"), Memory(content="User likes tea"))
    ]
