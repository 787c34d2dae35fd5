"""When a memory was said and when it holds: the temporal fields of stored values, pure.

A memory written by the store manager carries, next to ``kind`` and ``content``:

* ``said_at``: when the conversation that stated it took place (ISO 8601, UTC);
* ``valid_from``: when it started to hold in the world, when stated or inferable (a
  relative time in the fact, "last Saturday", resolved against ``said_at``);
* ``valid_to`` and ``superseded_by``: set when a later fact replaced it (the old fact
  stays stored, for history, "as of" recall and temporal questions).

:func:`holds` is the one rule recall applies to decide whether a stored value is current
(or was, at ``as_of``). Values without these fields (written by tools, other libraries or
before retain recorded them) always hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from retain.errors import InvalidInputError

__all__ = [
    "SAID_AT",
    "SUPERSEDED_BY",
    "VALID_FROM",
    "VALID_TO",
    "as_utc",
    "format_time",
    "holds",
    "parse_time",
    "resolve_relative",
    "start_of",
]

SAID_AT = "said_at"
VALID_FROM = "valid_from"
VALID_TO = "valid_to"
SUPERSEDED_BY = "superseded_by"


def as_utc(value: datetime | str, *, argument: str = "time") -> datetime:
    """``value`` as an aware UTC datetime; naive datetimes are taken as UTC.

    Example:
        >>> as_utc("2026-05-02").isoformat()
        '2026-05-02T00:00:00+00:00'
    """
    if isinstance(value, str):
        parsed = parse_time(value)
        if parsed is None:
            raise InvalidInputError(f"{argument} must be an ISO 8601 time; got {value!r}.")
        return parsed
    if not isinstance(value, datetime):
        raise InvalidInputError(
            f"{argument} must be a datetime or an ISO 8601 string; got {type(value).__name__}."
        )
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_time(value: datetime) -> str:
    """The stored form of a time: ISO 8601 in UTC, to the second."""
    return as_utc(value).replace(microsecond=0).isoformat()


def parse_time(text: Any) -> datetime | None:
    """A stored time (a date or a datetime in ISO 8601) as an aware datetime, else None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def holds(
    value: Mapping[str, Any],
    *,
    now: datetime,
    as_of: datetime | None = None,
    include_superseded: bool = False,
) -> bool:
    """Whether recall returns a stored value.

    By default (no ``as_of``): unless it was superseded (``superseded_by`` set: a later
    fact replaced it) or ended (a ``valid_to`` at or before ``now``). With ``as_of``: if
    it held then: it began (``valid_from``, else ``said_at``) at or before ``as_of`` and
    had not ended (``valid_to``) by then.
    ``include_superseded`` keeps ended facts (with ``as_of``: those begun by then).

    Example:
        >>> from datetime import datetime, timezone
        >>> now = datetime(2026, 5, 1, tzinfo=timezone.utc)
        >>> old = {"said_at": "2026-01-01T00:00:00+00:00", "valid_to": "2026-03-01"}
        >>> holds(old, now=now), holds(old, now=now, as_of=datetime(2026, 2, 1))
        (False, True)
    """
    end = parse_time(value.get(VALID_TO))
    if as_of is None:
        replaced = value.get(SUPERSEDED_BY) is not None
        return include_superseded or (not replaced and (end is None or end > now))
    at = as_utc(as_of)
    start = parse_time(value.get(VALID_FROM)) or parse_time(value.get(SAID_AT))
    if start is not None and start > at:
        return False
    return include_superseded or end is None or end > at


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_RELATIVE = re.compile(
    r"\b(?:(?P<day>yesterday|today|tonight|tomorrow)"
    r"|(?P<which>last|this|next|on)\s+(?P<weekday>" + "|".join(_WEEKDAYS) + r")"
    r"|(?P<when>last|next)\s+(?P<unit>week|month|year)"
    r"|(?P<count>\d{1,3}|a|an|one|two|three|four|five|six)\s+(?P<units>day|week|month|year)s?"
    r"\s+ago)\b",
    re.IGNORECASE,
)


def resolve_relative(text: str, said_at: datetime) -> date | None:
    """The day a relative time in ``text`` names, counted from ``said_at`` (its first one).

    Understood: yesterday, today, tomorrow; last/this/next/on <weekday> ("last Saturday"
    is the most recent Saturday before the day it was said; "next" the first one after);
    last/next week, month, year (their first day); "N days/weeks/months/years ago".

    Example:
        >>> from datetime import datetime
        >>> said = datetime(2026, 12, 7)  # a Monday
        >>> resolve_relative("User ran a half marathon last Saturday", said)
        datetime.date(2026, 12, 5)
        >>> resolve_relative("User moved to Lisbon last month", said)
        datetime.date(2026, 11, 1)
        >>> resolve_relative("User likes tea", said) is None
        True
    """
    match = _RELATIVE.search(text)
    if match is None:
        return None
    today = as_utc(said_at).date()
    if match["day"]:
        shift = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}
        return today + timedelta(days=shift[match["day"].lower()])
    if match["weekday"]:
        target = _WEEKDAYS.index(match["weekday"].lower())
        which = match["which"].lower()
        if which == "next":
            return today + timedelta(days=(target - today.weekday() - 1) % 7 + 1)
        if which == "this":
            return today + timedelta(days=target - today.weekday())
        return today - timedelta(days=(today.weekday() - target - 1) % 7 + 1)
    if match["unit"]:
        return _shift(today, match["unit"].lower(), -1 if match["when"].lower() == "last" else 1)
    raw = match["count"].lower()
    count = _NUMBERS[raw] if raw in _NUMBERS else int(raw)
    unit = match["units"].lower()
    if unit == "day":
        return today - timedelta(days=count)
    if unit == "week":
        return today - timedelta(weeks=count)
    return _months_back(today, count if unit == "month" else 12 * count)


def _shift(today: date, unit: str, step: int) -> date:
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(weeks=step)
    if unit == "month":
        first = _months_back(today, -step)
        return first.replace(day=1)
    return date(today.year + step, 1, 1)


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    try:
        return date(year, month + 1, day.day)
    except ValueError:  # 31 March, one month back: 28 February
        return date(year, month + 1, 28)


def start_of(day: date) -> datetime:
    """Midnight UTC of ``day``."""
    return datetime.combine(day, time(0), tzinfo=timezone.utc)
