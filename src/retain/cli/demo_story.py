"""The script of ``retain demo``: the sessions, the fact manager's instructions, the checks.

Pure data and string work, no I/O, so tests and the demo read the same story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "EXPECTED",
    "FACT_INSTRUCTIONS",
    "QUESTION",
    "SESSIONS",
    "SUPERSEDED",
    "TOLD",
    "USER_ID",
    "MemoryVerdict",
    "Verdict",
    "answer_prompt",
    "check_answer",
    "check_memories",
]

USER_ID = "may"

SESSIONS: list[list[str]] = [
    ["Hi! I'm Maya Okafor, but please call me May. I live in Rotterdam."],
    ["I drink green tea every morning.", "At work, Jonas is my team lead."],
    [
        "I've started learning Japanese: I practise every morning before work.",
        "Also, I switched from tea to coffee. I drink coffee every morning now.",
    ],
    ["Big news at work: Jonas left the company. Priya is my team lead now."],
]
"""What the user says, session by session (one list of user turns per session)."""

QUESTION = (
    "Quick check: where do I live, which language am I learning, what do I drink in the "
    "morning, and who is my team lead?"
)
EXPECTED: dict[str, tuple[str, ...]] = {
    "home": ("Rotterdam",),
    "language": ("Japanese",),
    "drink": ("coffee",),
    "team lead": ("Priya",),
}
"""For each part of the question, the words of which the answer must contain one."""

TOLD: dict[str, tuple[str, ...]] = {
    "name": ("Maya", "May"),
    "home": ("Rotterdam",),
    "language": ("Japanese",),
    "drink": ("coffee",),
    "team lead": ("Priya",),
}
"""Every fact the user told, as the words of which a current stored fact must name one."""

SUPERSEDED: dict[str, tuple[str, str, str]] = {
    "drink": ("tea", "coffee", ""),
    "team lead": ("Jonas", "Priya", "lead"),
}
"""Facts that changed: ``part: (old word, new word, topic word)``. A current fact that names
the old word (and the topic word), not the new one, and does not say the old one ended
presents a superseded fact as current."""

_ENDED = ("left", "former", "previous", "used to", "no longer", "switched", "anymore", "was ")

FACT_INSTRUCTIONS = """\
Keep the assistant's memory about its user, May. Save every fact she states about herself \
(her name, home, the languages she is learning, drinks, work and colleagues) as its own \
short memory starting with "User", e.g. "User's team lead is Jonas". When she says a fact \
changed, update the memory about that thing (by its id) to the new fact. Never add a second \
memory about the same thing, nor one already stored."""


def answer_prompt(memories: list[str]) -> str:
    """The final session's system prompt: the recalled memories (current facts only)."""
    listed = "\n".join(f"- {m}" for m in memories) or "- (none)"
    return (
        "You are May's assistant. This is what you remember about her from earlier "
        f"conversations:\n<memories>\n{listed}\n</memories>\nAnswer her question from "
        "these memories in one or two short sentences."
    )


@dataclass(frozen=True)
class Verdict:
    """Whether the final answer was right: which parts it got and which it missed."""

    found: dict[str, str]
    missing: list[str]

    @property
    def right(self) -> bool:
        return not self.missing


def check_answer(answer: str, expected: dict[str, tuple[str, ...]] = EXPECTED) -> Verdict:
    """Check ``answer`` against ``expected`` (whole words, case-insensitive).

    Example:
        >>> check_answer("Rotterdam; Japanese; coffee; Priya leads your team.").right
        True
        >>> check_answer("You live in Rotterdam, drink tea, and Jonas leads your team.").missing
        ['language', 'drink', 'team lead']
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for part, words in expected.items():
        hit = next(
            (w for w in words if re.search(rf"\b{re.escape(w)}\b", answer, re.IGNORECASE)), None
        )
        if hit is None:
            missing.append(part)
        else:
            found[part] = hit
    return Verdict(found, missing)


def _names(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


@dataclass(frozen=True)
class MemoryVerdict:
    """Whether the stored facts are right: each told fact present and current, and no
    superseded fact presented as current."""

    found: dict[str, str]
    """For each told part, the current fact that holds it."""
    missing: list[str]
    """Told parts no current fact names."""
    stale: dict[str, str]
    """Changed parts whose old value a current fact still presents: part -> that fact."""

    @property
    def right(self) -> bool:
        return not self.missing and not self.stale


def check_memories(
    current: list[str],
    told: dict[str, tuple[str, ...]] = TOLD,
    superseded: dict[str, tuple[str, str, str]] = SUPERSEDED,
) -> MemoryVerdict:
    """Check the current stored facts (``current``: their texts) against the story.

    Example:
        >>> now = ["User's name is Maya Okafor.", "User lives in Rotterdam.",
        ...        "User is learning Japanese.", "User drinks coffee every morning.",
        ...        "User's team lead is Priya (Jonas left)."]
        >>> check_memories(now).right
        True
        >>> stale = check_memories([*now, "User drinks green tea every morning."])
        >>> stale.right, stale.stale
        (False, {'drink': 'User drinks green tea every morning.'})
        >>> check_memories(now[1:]).missing
        ['name']
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for part, words in told.items():
        fact = next((f for f in current if any(_names(f, w) for w in words)), None)
        if fact is None:
            missing.append(part)
        else:
            found[part] = fact
    stale: dict[str, str] = {}
    for part, (old, new, topic) in superseded.items():
        for fact in current:
            if (
                _names(fact, old)
                and not _names(fact, new)
                and (not topic or _names(fact, topic))
                and not any(word in fact.lower() for word in _ENDED)
            ):
                stale[part] = fact
                break
    return MemoryVerdict(found, missing, stale)
