"""The ``retain`` command: version, errors, and the demo story end to end.

The story runs in-process against a real SQLite file with a deterministic fake model that
answers the chat turns from what it is shown and the extraction calls with scripted memory
operations (JSON-schema style, as the embedded local model answers).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from retain import __version__
from retain.cli import main
from retain.cli.demo import run_demo
from retain.cli.demo_story import QUESTION, check_answer
from retain.stores import SQLiteStore
from retain.testing import FakeCall, FakeChatModel, done, insert, update

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIN_", "OPENAI_"))}
    base["PYTHONPATH"] = str(ROOT / "src")  # this checkout's sources, whatever is installed
    return subprocess.run(
        [sys.executable, "-m", "retain.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        cwd=Path(__file__).parent,
    )


def test_version() -> None:
    assert main.__module__ == "retain.cli"
    out = _cli("--version")
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_demo_help_names_the_model_choices() -> None:
    out = _cli("demo", "--help")
    assert out.returncode == 0
    for text in ("--model", "RETAIN_MODEL", "local:qwen2.5-1.5b", "--keep", "--path"):
        assert text in out.stdout


def test_dev_script_demo_help_installs_nothing() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "dev.py"), "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "installing" not in out.stdout
    assert "[providers,local]" in out.stdout


def test_demo_with_a_model_but_no_key_is_a_clear_error(tmp_path: Path) -> None:
    out = _cli("demo", "--path", str(tmp_path / "m.db"), env={"RETAIN_MODEL": "openai:gpt-4o"})
    assert out.returncode == 2  # a configuration error (docs/service.md, exit codes)
    assert "retain: error:" in out.stderr
    assert "OPENAI_API_KEY" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_unknown_provider_is_a_clear_error(tmp_path: Path) -> None:
    out = _cli("demo", "--model", "nosuchprovider:model-x", "--path", str(tmp_path / "m.db"))
    assert out.returncode == 2
    assert "retain: error:" in out.stderr
    assert "Traceback" not in out.stderr


# -- the story ------------------------------------------------------------------------------

_CANDIDATES = {"home": "Rotterdam", "language": "Japanese", "drink": "coffee"}


def _answer(call: FakeCall) -> str:
    """The final answer, built only from what the prompt's memories say."""
    parts = [word for word in _CANDIDATES.values() if word in call.system]
    lead = "Priya" if "Priya" in call.system else "Jonas"
    return f"From memory: {', '.join(parts)}; your team lead is {lead}."


def _content(memory: dict[str, Any]) -> str:
    return str(memory["content"].get("content", ""))


def _facts(call: FakeCall, *, forget_new_lead: bool, keep_tea: bool, skip: str) -> list[Any]:
    known = call.memories()
    said = call.prompt.split("<conversation>")[1]

    def about(word: str) -> str:
        return str(next(m["id"] for m in known if word in _content(m)))

    if "Priya" in said:
        if forget_new_lead:
            return [done()]
        return [update(about("Jonas"), "User's team lead is Priya (Jonas left the company)")]
    if "Japanese" in said:
        return [done()] if skip == "Japanese" else [insert("User is learning Japanese")]
    if "coffee" in said:
        coffee = "User drinks coffee every morning (switched from tea)"
        return [insert(coffee) if keep_tea else update(about("tea"), coffee)]
    if "green tea" in said:
        return [insert("User drinks green tea every morning")]
    if "Jonas" in said:
        return [insert("User's team lead is Jonas")]
    return [insert("User is Maya Okafor and goes by May"), insert("User lives in Rotterdam")]


def _story_model(
    *, forget_new_lead: bool = False, keep_tea: bool = False, skip: str = ""
) -> FakeChatModel:
    def reply(call: FakeCall) -> object:
        if call.style == "text":
            return _answer(call) if QUESTION in call.prompt else "Noted, thanks!"
        return _facts(call, forget_new_lead=forget_new_lead, keep_tea=keep_tea, skip=skip)

    return FakeChatModel(reply, tool_calling=False)


def _run(model: FakeChatModel, path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run_demo(model=model, path=path, out=out, timeout=30, after_seconds=0)
    return code, out.getvalue()


def test_story_forms_memory_and_answers_from_it(tmp_path: Path) -> None:
    model = _story_model()
    db = tmp_path / "demo" / "memories.db"
    code, out = _run(model, db)
    assert code == 0, out
    assert f"memories in {db}" in out
    for number in range(1, 5):
        assert f"--- session {number} ---" in out
    assert out.count("done: forming memories in the background") == 6  # one per user turn
    scored = re.findall(r"^  (\d\.\d{3})  (.+)$", out, re.MULTILINE)
    assert {text for _, text in scored} == {
        "User is Maya Okafor and goes by May",
        "User lives in Rotterdam",
        "User drinks coffee every morning (switched from tea)",
        "User's team lead is Priya (Jonas left the company)",
        "User is learning Japanese",
    }
    scores = [float(s) for s, _ in scored]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]
    history = re.findall(r"^  v(\d)  \d\d:\d\d:\d\d  put    \[(session-\d)\]  (.+)$", out, re.M)
    assert history == [
        ("1", "session-2", "User's team lead is Jonas"),
        ("2", "session-4", "User's team lead is Priya (Jonas left the company)"),
    ]
    extractions = [c for c in model.calls if c.style != "text"]
    assert len(extractions) == 6  # one fact extraction after each of the 6 user turns
    assert not any("Noted, thanks!" in c.prompt for c in extractions)  # the user's turns only
    assert all(c.prompt.count("\nuser: ") == 1 for c in extractions)  # one turn each
    final = model.calls[-1]
    assert final.prompt == QUESTION
    assert "User's team lead is Priya" in final.system
    assert "team lead is Jonas" not in final.system  # the superseded lead is not current
    assert "green tea" not in final.system
    superseded = out.split("superseded facts, kept for history (2):\n")[1].split("history")[0]
    assert "User drinks green tea every morning  (until 20" in superseded
    assert "User's team lead is Jonas  (until 20" in superseded
    assert re.search(
        r"^assistant \(\d+\.\d s\): From memory: Rotterdam, Japanese, coffee; your team lead is "
        r"Priya\.$",
        out,
        re.MULTILINE,
    )
    assert "check: memories RIGHT, every told fact is current" in out
    assert "check: answer RIGHT" in out
    store = SQLiteStore(db)  # the memories are in the file, not only in the output
    try:
        assert len(store.recall(("memories", "may"), limit=20)) == 5
        # the drink and the team lead changed: the old facts are kept, ended
        assert len(store.search(("memories", "may"), limit=20)) == 7
    finally:
        store.close()


def test_story_starts_fresh_unless_kept(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    assert _run(_story_model(), db)[0] == 0
    assert _run(_story_model(), db)[0] == 0  # a second run does not see the first's memories
    store = SQLiteStore(db)
    try:
        assert len(store.recall(("memories", "may"), limit=20)) == 5
    finally:
        store.close()


def test_a_wrong_final_answer_fails_the_story(tmp_path: Path) -> None:
    code, out = _run(_story_model(forget_new_lead=True), tmp_path / "memories.db")
    assert code == 1
    assert "your team lead is Jonas" in out
    assert "check: memories WRONG, no current fact has the team lead" in out
    assert "check: answer WRONG, the answer misses team lead" in out
    assert "the story failed: the memories and the answer check failed" in out


def test_a_superseded_fact_left_current_fails_the_story(tmp_path: Path) -> None:
    # the coffee fact is inserted next to the tea fact instead of superseding it: the
    # answer may still be right, the stored facts are not
    code, out = _run(_story_model(keep_tea=True), tmp_path / "memories.db")
    assert code == 1
    assert (
        "check: memories WRONG, a superseded drink is still current: "
        "'User drinks green tea every morning'" in out
    )
    assert "the story failed: the memories check failed" in out


def test_a_told_fact_never_stored_fails_the_story(tmp_path: Path) -> None:
    code, out = _run(_story_model(skip="Japanese"), tmp_path / "memories.db")
    assert code == 1
    assert "check: memories WRONG, no current fact has the language" in out
    assert "check: answer WRONG, the answer misses language" in out


def test_failed_memory_formation_is_shown_and_the_story_goes_on(tmp_path: Path) -> None:
    story = _story_model()

    def broken(call: FakeCall) -> object:
        if call.style != "text" and "Big news" in call.prompt:
            return RuntimeError("model server went away")
        return story.replies(call)

    code, out = _run(FakeChatModel(broken, tool_calling=False), tmp_path / "m.db")
    assert "memory formation failed for facts: RuntimeError: model server went away" in out
    assert code == 1  # the new team lead was never stored


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ("You live in Rotterdam, study Japanese, drink coffee; Priya is your lead.", []),
        ("ROTTERDAM, japanese, Coffee, priya", []),
        (
            "You live in Rotterdam and learn Japanese. Jonas leads your team; you drink tea.",
            ["drink", "team lead"],
        ),
        ("Rotterdamish Japanese coffees Priyanka", ["home", "drink", "team lead"]),
    ],
)
def test_answer_check(answer: str, missing: list[str]) -> None:
    assert check_answer(answer).missing == missing


def test_demo_unknown_local_model_is_a_clear_error(tmp_path: Path) -> None:
    out = _cli("demo", "--model", "local:nosuch-7b", "--path", str(tmp_path / "m.db"))
    assert out.returncode == 2
    assert "retain: error:" in out.stderr
    assert "qwen2.5-1.5b" in out.stderr
    assert "Traceback" not in out.stderr
