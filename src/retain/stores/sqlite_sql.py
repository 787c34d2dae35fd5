"""The SQL pieces of :class:`~retain.stores.SQLiteStore`: how namespaces are stored
(labels joined by ``"."``), prefix ranges the ``(prefix, key)`` index can seek, equality
filters evaluated by SQLite, and FTS5 queries. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "SEP",
    "equality_filter_sql",
    "fts_query",
    "ns_text",
    "ns_tuple",
    "under_args",
    "under_sql",
    "utc",
]

SEP = "."


def ns_text(namespace: Sequence[str]) -> str:
    return SEP.join(namespace)


def ns_tuple(prefix: str) -> tuple[str, ...]:
    return tuple(prefix.split(SEP))


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def under_sql(column: str = "prefix") -> str:
    """SQL matching rows whose namespace equals or lies under the bound prefix (4 params).

    The first two bound a range the ``(prefix, key)`` index can seek; the rest drop names
    that sort inside it without being under the prefix (``"users-x"`` for ``"users"``).
    """
    return f"({column} >= ? AND {column} < ? AND ({column} = ? OR {column} >= ?))"


def under_args(prefix: tuple[str, ...]) -> tuple[str, ...]:
    p = ns_text(prefix)
    if not p:
        return ("", "\U0010ffff", "", "")
    return (p, p + chr(ord(SEP) + 1), p, p + SEP)


def equality_filter_sql(filter: dict[str, Any]) -> tuple[str, list[Any]] | None:
    """SQL for a filter of plain ``{"field": scalar}`` equalities, with the same result as
    :func:`~retain.stores.base.matches_filter` (``True == 1``, a missing field is ``None``);
    ``None`` for filters with operators or nested values, which are checked in Python."""
    clauses: list[str] = []
    args: list[Any] = []
    for key, want in filter.items():
        if not isinstance(key, str) or '"' in key or "\\" in key:
            return None
        path = f'$."{key}"'
        if want is None:
            clauses.append("json_extract(value, ?) IS NULL")
            args.append(path)
        elif (
            isinstance(want, str)
            or (isinstance(want, int) and -(2**63) <= want < 2**63)
            or (isinstance(want, float) and want == want)
        ):  # an object or array never equals a scalar (its JSON text could)
            clauses.append(
                "(json_type(value, ?) NOT IN ('object', 'array') AND json_extract(value, ?) = ?)"
            )
            args += [path, path, want]
        else:
            return None
    return " AND ".join(clauses), args


# Words too common to rank by: a query made of a whole conversation would otherwise match
# (and BM25-score) nearly every row. PostgreSQL's "english" text search drops the same.
_STOPWORD_TEXT = (
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further had has have having he her here hers herself him himself his how i if in "
    "into is it its itself just me more most my myself no nor not now of off on once only or "
    "other our ours ourselves out over own same she should so some such than that the their "
    "theirs them themselves then there these they this those through to too under until up "
    "very was we were what when where which while who whom why will with would you your "
    "yours yourself yourselves s t d ll m re ve"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MAX_FTS_TERMS = 24


def fts_query(text: str) -> str | None:
    """An FTS5 ``MATCH`` expression: any of the text's distinct words, stopwords dropped,
    at most ``MAX_FTS_TERMS`` of them (the longest, which are usually the rarest)."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]
    distinct = [w for w in dict.fromkeys(words) if w not in STOPWORDS] or list(dict.fromkeys(words))
    if not distinct:
        return None
    if len(distinct) > MAX_FTS_TERMS:
        keep = set(sorted(distinct, key=len, reverse=True)[:MAX_FTS_TERMS])
        distinct = [w for w in distinct if w in keep]
    return " OR ".join(f'"{w}"' for w in distinct)
