"""What a fact is about, and the user's wording in the third person. Pure text rules.

**Subject.** The subject of a fact is its leading phrase: the capitalised words it starts
with (a name, or "User"), continued through a possessive by at most two words ("User's
team lead"), ending earlier at an auxiliary verb ("is", "has", ...). An update whose new
text has another subject than the memory it replaces would lose a fact by a wrong id
("User's name is Maya" overwritten by "User drinks tea"), so the store manager turns it
into an insert. Structured memories compare their ``subject`` field
when they have one; memories without a readable subject, or with nothing after it
("Old"), are not checked.

**Same thing.** Two facts with the same subject are about the same thing when they share a
content word (compared by their first four letters: "lives"/"live", "engineer"/
"engineering"), when their verbs after the subject are the same ("User is single" / "User
is engaged"), when both name a place to live or a job (live, move, home, work, job, ...),
or when the new fact says what changed ("switched", "now", "no longer", "instead", ...).
Otherwise an update would put an unrelated fact over the memory ("User lives in Toronto"
updated to "User plays the violin"), and it is made an insert too.

**First person.** Facts are about the user in the third person: "I moved to Lisbon"
becomes "User moved to Lisbon", "my sister" becomes "User's sister".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["content_stems", "fact_subject", "same_subject", "same_topic", "third_person"]

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


_STOP_TEXT = (
    "a an the in on at to of for with and or but from by as into over about than then "
    "also still every very not no so that this who which it its they them their his her "
    "he she user user's users is are was were be been being has have had do does did will "
    "would can could should may might must just more most some any all"
)
_STOP = frozenset(_STOP_TEXT.split())
_FAMILIES = (
    frozenset({"live", "move", "resi", "relo", "home", "base", "city"}),
    frozenset({"work", "job", "jobs", "empl", "join", "prom", "hire", "quit", "left", "leav"}),
)
_CHANGE = re.compile(
    r"\b(?:switch\w*|now|no longer|instead|anymore|any more|changed|moved|left|quit|stopped|"
    r"became|promoted|replaced|upgraded|sold)\b",
    re.IGNORECASE,
)


def _stem(word: str) -> str:
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word[:4]


def content_stems(text: str) -> set[str]:
    """The content words of ``text`` by their first four letters (no "User", "is", "the"...).

    Example:
        >>> sorted(content_stems("User's team lead is Priya (Jonas left)."))
        ['jona', 'lead', 'left', 'priy', 'team']
    """
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP}


def _after_subject(text: str) -> list[str]:
    words = _WORD.findall(text)
    subject = fact_subject(text)
    return words[len(subject.split()) :] if subject else words


def same_topic(before: str, after: str) -> bool:
    """Whether two facts (their texts) are about the same thing; see the module docstring.

    Example:
        >>> same_topic("User lives in Berlin.", "User moved to Munich.")
        True
        >>> same_topic("User drinks green tea.", "User drinks coffee (switched from tea).")
        True
        >>> same_topic("User lives in Toronto.", "User plays the violin.")
        False
        >>> same_topic("Old", "Old, revised")  # nothing after the subject to compare
        True
    """
    if _CHANGE.search(after):
        return True
    old_words, new_words = _after_subject(before), _after_subject(after)
    if not old_words or not new_words:
        return True
    if _stem(old_words[0]) == _stem(new_words[0]):
        return True  # the same verb
    old = {_stem(w) for w in old_words if w.lower() not in _STOP}
    new = {_stem(w) for w in new_words if w.lower() not in _STOP}
    if old & new:
        return True
    return any(old & family and new & family for family in _FAMILIES)


def same_subject(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether two dumped memories are about the same subject and the same thing (True when
    unknown): structured memories compare their ``subject`` field, text memories their
    subject phrase and then :func:`same_topic`.

    Example:
        >>> same_subject({"content": "User lives in Berlin"}, {"content": "User lives in Lisbon"})
        True
        >>> same_subject({"content": "User's name is Maya"}, {"content": "User drinks tea"})
        False
        >>> chef, pilot = "User works as a chef", "User got a pilot's licence"
        >>> same_subject({"content": chef}, {"content": pilot})
        False
    """
    old, new = _subject_of(before), _subject_of(after)
    if old is None or new is None:
        return True
    if old != new:
        return False
    if isinstance(before.get("subject"), str) and before["subject"].strip():
        return True  # structured: the subject field decides
    old_text, new_text = before.get("content"), after.get("content")
    if not isinstance(old_text, str) or not isinstance(new_text, str):
        return True
    return same_topic(old_text, new_text)


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
