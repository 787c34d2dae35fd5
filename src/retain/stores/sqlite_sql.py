"""The SQL pieces of :class:`~retain.stores.SQLiteStore`: prefix ranges the ``(prefix,
key)`` index can seek, equality filters evaluated by SQLite, and FTS5 queries. Pure
functions. (Namespaces are stored as their labels joined by ``"."``:
:func:`retain.stores.base.ns_text`.)"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from retain.stores.base import SEP, ns_text

__all__ = [
    "equality_filter_sql",
    "fts_match",
    "fts_query",
    "ns_terms",
    "under_args",
    "under_sql",
    "utc",
]


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


def fts_query(terms: Sequence[str]) -> str | None:
    """An FTS5 ``MATCH`` expression matching any of ``terms`` (see
    :func:`retain.core.ranking.analyse_query`); ``None`` without terms.

    Example:
        >>> fts_query(["dark", "mode"])
        '"dark" OR "mode"'
    """
    quoted = [t.replace('"', '""') for t in terms if t]
    return " OR ".join(f'"{t}"' for t in quoted) if quoted else None


def ns_terms(prefix: str) -> str:
    """The keyword index's ``ns`` column for an item in namespace ``prefix`` (its
    :func:`ns_text`): one token per enclosing namespace, itself included, so a search can
    keep to a namespace prefix without reading other namespaces' postings.

    Example:
        >>> ns_terms("users.u1").split() == [ns_terms("users"), ns_terms("users.u1").split()[1]]
        True
    """
    labels = prefix.split(SEP) if prefix else []
    return " ".join(_ns_token(SEP.join(labels[: i + 1])) for i in range(len(labels)))


def _ns_token(namespace: str) -> str:
    # hex digits and letters only: one token for FTS5's unicode61 tokenizer
    return "ns" + hashlib.blake2b(namespace.encode(), digest_size=8).hexdigest()


def fts_match(terms: Sequence[str], prefix: Sequence[str]) -> str | None:
    """An FTS5 ``MATCH`` expression for items under ``prefix`` whose text has any of
    ``terms``; ``None`` without terms. The namespace token only narrows what FTS5 reads:
    callers still check the prefix exactly (:func:`under_sql`).

    Example:
        >>> fts_match(["tea"], ())
        'body : ("tea")'
    """
    words = fts_query(terms)
    if words is None:
        return None
    body = f"body : ({words})"
    return f'ns : "{_ns_token(ns_text(prefix))}" AND {body}' if prefix else body
