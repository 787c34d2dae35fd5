"""The script of ``retain demo``: the sessions, the managers' instructions, the final check.

Pure data and string work, no I/O, so tests and the demo read the same story.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

__all__ = [
    "EXPECTED",
    "FACT_INSTRUCTIONS",
    "PROFILE_INSTRUCTIONS",
    "QUESTION",
    "SESSIONS",
    "USER_ID",
    "DemoProfile",
    "Verdict",
    "answer_prompt",
    "check_answer",
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

FACT_INSTRUCTIONS = """\
You keep the assistant's memory about its user, May. Save each fact May states about \
herself as one short sentence that starts with "User", for example "User's team lead is \
Jonas": her name, home, languages, drinks, work and colleagues. When she says that a fact \
changed, update the memory about that same thing (by its id) to the new fact, for example \
"User drinks coffee (switched from tea)"; never overwrite a memory about something else, \
and leave memories the conversation does not change as they are."""

PROFILE_INSTRUCTIONS = """\
You maintain the user's profile: one document with the fields below. Set a field only from \
what the user says; when they say a value changed, set the new value. For example, "I'm \
Ana Silva and I live in Porto" sets name "Ana Silva" and home_city "Porto"; "Luis is my \
team lead now" sets team_lead "Luis". Do not change fields the conversation says nothing \
about."""


@dataclass
class DemoProfile:
    """Who the user is: name, home, languages, morning drink and team lead."""

    name: str | None = dataclasses.field(
        default=None, metadata={"description": "The user's own full name"}
    )
    home_city: str | None = dataclasses.field(
        default=None, metadata={"description": "The city where the user lives now"}
    )
    languages_learning: str | None = dataclasses.field(
        default=None, metadata={"description": "Languages the user is learning, comma-separated"}
    )
    morning_drink: str | None = dataclasses.field(
        default=None, metadata={"description": "What the user drinks in the morning now"}
    )
    team_lead: str | None = dataclasses.field(
        default=None,
        metadata={"description": "The name of the colleague who leads the user's team now"},
    )


def answer_prompt(profile: str, memories: list[str]) -> str:
    """The final session's system prompt: the recalled profile and memories."""
    listed = "\n".join(f"- {m}" for m in memories) or "- (none)"
    return (
        "You are May's assistant. This is what you remember about her from earlier "
        f"conversations:\n<user_profile>\n{profile}\n</user_profile>\n<memories>\n{listed}\n"
        "</memories>\nThe profile is kept up to date: where a memory disagrees with it, the "
        "profile is right. When two memories disagree, the one that says what changed is the "
        "current one. Answer her question from these memories in one or two short sentences."
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
