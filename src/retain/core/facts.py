"""What a fact is about, and the user's wording in the third person. Pure text rules.

**Subject.** The subject of a fact is its leading phrase: the capitalised words it starts
with (a name, or "User"), continued through a possessive by at most two words ("User's
team lead"), ending earlier at an auxiliary verb ("is", "has", ...). An update whose new
text has another subject than the memory it replaces would lose a fact by a wrong id
("User's name is Maya" overwritten by "User drinks tea"), so the store manager turns it
into an insert. Structured memories compare their ``subject`` field
when they have one; memories without a readable subject are not checked.

**First person.** Facts are about the user in the third person: "I moved to Lisbon"
becomes "User moved to Lisbon", "my sister" becomes "User's sister".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["fact_subject", "same_subject", "third_person"]

_ARTICLES = frozenset({"the", "a", "an"})
_VERB_TEXT = (
    "is are was were has have had will would can could does do did should may might must "
    "isn't aren't wasn't doesn't don't didn't won't can't"
)
_VERBS = frozenset(_VERB_TEXT.split())
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_MAX_WORDS = 4
_AFTER_POSSESSIVE = 2


def fact_subject(text: str) -> str | None:
    """The leading subject phrase of a fact, lower-cased, or None when there is none.

    Example:
        >>> fact_subject("User's team lead is Jonas."), fact_subject("User drinks tea.")
        ("user's team lead", 'user')
        >>> fact_subject("Maya Okafor lives in Porto"), fact_subject("likes tea") is None
        ('maya okafor', True)
    """
    words = _WORD.findall(text)
    while words and words[0].lower() in _ARTICLES:
        words = words[1:]
    if not words or not (words[0][:1].isupper() or words[0].lower() == "user"):
        return None
    phrase: list[str] = []
    owned = 0  # words taken after a possessive ("team lead" in "User's team lead")
    for word in words:
        lower = word.lower()
        if lower in _VERBS or len(phrase) >= _MAX_WORDS:
            break
        if owned:
            if owned > _AFTER_POSSESSIVE:
                break
        elif not (word[:1].isupper() or (not phrase and lower == "user")):
            break
        phrase.append(lower.replace("’", "'"))
        if lower.endswith(("'s", "’s", "s'")):
            owned = 1
        elif owned:
            owned += 1
    return " ".join(phrase) or None


def _subject_of(content: Mapping[str, Any]) -> str | None:
    subject = content.get("subject")
    if isinstance(subject, str) and subject.strip():
        return subject.strip().lower()
    text = content.get("content")
    return fact_subject(text) if isinstance(text, str) else None


def same_subject(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether two dumped memories are about the same subject (True when unknown).

    Example:
        >>> same_subject({"content": "User lives in Berlin"}, {"content": "User lives in Lisbon"})
        True
        >>> same_subject({"content": "User's name is Maya"}, {"content": "User drinks tea"})
        False
    """
    old, new = _subject_of(before), _subject_of(after)
    return old is None or new is None or old == new


_FIRST_PERSON = [
    (re.compile(r"\bI am\b|\bI'm\b|\bI’m\b"), "User is"),
    (re.compile(r"\bI've\b|\bI’ve\b|\bI have\b"), "User has"),
    (re.compile(r"\bI'd\b|\bI’d\b"), "User would"),
    (re.compile(r"\bI'll\b|\bI’ll\b"), "User will"),
    (re.compile(r"\bI was\b"), "User was"),
    (re.compile(r"\bI\b"), "User"),
    (re.compile(r"\b[Mm]y\b"), "User's"),
    (re.compile(r"\b[Mm]yself\b"), "User"),
    (re.compile(r"(?<=\s)me\b"), "User"),
]


def third_person(text: str) -> str:
    """The user's own wording as a fact about "User".

    Example:
        >>> third_person("I drink coffee every morning now; my sister visits me.")
        "User drink coffee every morning now; User's sister visits User."
        >>> third_person("User is a teacher.")
        'User is a teacher.'
    """
    for pattern, replacement in _FIRST_PERSON:
        text = pattern.sub(replacement, text)
    return text
