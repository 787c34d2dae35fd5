"""Checks on what callers hand a store, run before anything is read or written.

The one place where both of retain's stores validate their input, so that the same bad
call raises the same typed error on SQLite and on PostgreSQL. LangGraph's
``BaseStore.put`` checks namespaces but ``batch`` does not, and nothing checks keys,
values, TTLs or pages: a bad value fails half-way through a write, a negative ``limit``
returns the wrong rows. These checks raise retain's typed errors up front:

* :func:`check_namespace`, :func:`check_key`: non-empty strings, no ``'.'`` in labels, no
  NUL and no lone surrogate (neither can be stored as UTF-8 text).
* :func:`encode_value`: a JSON object, at most :data:`MAX_VALUE_DEPTH` levels deep.
* :func:`check_ttl`: ``None`` or a finite number of minutes in ``(0, MAX_TTL_MINUTES]``.
* :func:`check_page`: ``limit`` and ``offset`` are integers ``>= 0``.
* :func:`check_instant`: a timezone-aware ``datetime`` (naive ones are refused, not
  guessed).
* :func:`check_op`: all of the above for one operation of a batch.
* :class:`CheckedCalls`: the namespace checks on ``put``/``get``/``delete``/``search``/
  ``list_namespaces`` and their async twins, before LangGraph's own (so the error is
  retain's); both stores derive from it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    ListNamespacesOp,
    PutOp,
    SearchOp,
    TTLConfig,
)

from retain.errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidNamespaceError,
    InvalidValueError,
)

__all__ = [
    "MAX_PAGE",
    "MAX_TTL_MINUTES",
    "MAX_VALUE_DEPTH",
    "CheckedCalls",
    "check_count",
    "check_instant",
    "check_key",
    "check_namespace",
    "check_op",
    "check_page",
    "check_query",
    "check_ttl",
    "check_ttl_config",
    "encode_value",
]

MAX_VALUE_DEPTH = 64
"""Most levels of nested dicts and lists in a stored value (deeper ones are refused:
decoding them would exhaust the stack of Python or PostgreSQL)."""
MAX_TTL_MINUTES = 100 * 365.25 * 24 * 60
"""The longest TTL, 100 years in minutes (use ``ttl=None`` for items that never expire)."""
MAX_PAGE = 2**63 - 1
"""The largest ``limit`` or ``offset`` (a signed 64-bit integer, as databases take it)."""


def _utf8(text: str) -> bool:
    """Whether ``text`` can be stored as UTF-8 (no lone surrogate such as ``'\\ud800'``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_namespace(namespace: Any, *, prefix: bool = False) -> tuple[str, ...]:
    """``namespace`` as a tuple of labels, or :class:`InvalidNamespaceError`.

    Labels must be non-empty strings without ``'.'``, NUL or lone surrogates. A full
    namespace (``prefix`` false, as for put and get) also needs at least one label, and its
    first one may not be ``"langgraph"`` (reserved by LangGraph). A ``str`` is refused
    (``"users"`` is not ``("users",)``).

    Example:
        >>> check_namespace(("users", "u1"))
        ('users', 'u1')
        >>> check_namespace(("users", "a.b"))
        Traceback (most recent call last):
        ...
        retain.errors.InvalidNamespaceError: Namespace label 'a.b' in ('users', 'a.b') ...
        >>> check_namespace("users")
        Traceback (most recent call last):
        ...
        retain.errors.InvalidNamespaceError: A namespace is a tuple of strings ...
    """
    if isinstance(namespace, (str, bytes)) or not isinstance(namespace, Sequence):
        raise InvalidNamespaceError(
            f"A namespace is a tuple of strings such as ('users', 'u1'); got {namespace!r}. "
            "Write a single label as a one-element tuple: ('users',)."
        )
    labels = tuple(namespace)
    for label in labels:
        if not isinstance(label, str):
            raise InvalidNamespaceError(
                f"Namespace label {label!r} in {labels} is a {type(label).__name__}; labels "
                "must be strings (convert ids with str())."
            )
        if not label:
            raise InvalidNamespaceError(f"Namespace {labels} has an empty label; remove it.")
        if "." in label or "\x00" in label:
            raise InvalidNamespaceError(
                f"Namespace label {label!r} in {labels} contains '.' or a NUL byte, which "
                "separate labels in storage; split it into several labels or replace the "
                "character."
            )
        if not _utf8(label):
            raise InvalidNamespaceError(
                f"Namespace label {label!r} in {labels} contains a lone surrogate, which is "
                "not text (it cannot be stored as UTF-8); decode the label properly first."
            )
    if not prefix:
        if not labels:
            raise InvalidNamespaceError("A namespace needs at least one label, e.g. ('memories',).")
        if labels[0] == "langgraph":
            raise InvalidNamespaceError(
                f"Namespace {labels} starts with 'langgraph', which LangGraph reserves."
            )
    return labels


def check_key(key: Any) -> str:
    """``key`` if it is a non-empty string without NUL or lone surrogates, else
    :class:`InvalidInputError` (a NUL would cut the key short in some drivers: such an
    item could be written but never updated or deleted)."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"An item key must be a non-empty string; got {key!r}.")
    if "\x00" in key or not _utf8(key):
        raise InvalidInputError(
            f"The item key {key!r} contains a NUL character or a lone surrogate, which cannot "
            "be stored; remove it (e.g. use a UUID or a hash of the text as the key)."
        )
    return key


def _depth_ok(value: Any) -> bool:
    """Whether ``value`` nests dicts and lists at most :data:`MAX_VALUE_DEPTH` deep (checked
    without recursion, so any depth is measured safely)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            return False
        children: Iterable[Any]
        if isinstance(node, Mapping):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        stack.extend((v, depth + 1) for v in children if isinstance(v, (Mapping, list, tuple)))
    return True


def encode_value(namespace: tuple[str, ...], key: str, value: Any) -> str:
    """``value`` as JSON text, or :class:`InvalidValueError` saying which item and why.

    Values must be JSON objects: a ``dict`` with string keys whose values are strings,
    numbers (finite), booleans, ``None``, lists or such dicts, nested at most
    :data:`MAX_VALUE_DEPTH` levels, with no NUL character (PostgreSQL's ``jsonb`` cannot
    hold one) and no lone surrogate in any string.

    Example:
        >>> encode_value(("memories",), "k", {"content": "tea", "n": 1})
        '{"content": "tea", "n": 1}'
        >>> encode_value(("memories",), "k", {"when": object()})
        Traceback (most recent call last):
        ...
        retain.errors.InvalidValueError: The value of ('memories',)/k is not JSON: ...
    """
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"The value of {namespace}/{key} must be a dict (a JSON object); got "
            f"{type(value).__name__}. Wrap it, e.g. {{'content': value}}."
        )
    if not _depth_ok(value):
        raise InvalidValueError(
            f"The value of {namespace}/{key} nests dicts or lists more than "
            f"{MAX_VALUE_DEPTH} levels deep; flatten it. Nothing was written."
        )
    try:
        text = json.dumps(dict(value), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidValueError(
            f"The value of {namespace}/{key} is not JSON: {e}. Convert it first (e.g. "
            "datetimes to ISO strings, sets to lists, NaN to None); nothing was written."
        ) from e
    if "\\u0000" in text or "\x00" in text or not _utf8(text):
        raise InvalidValueError(
            f"The value of {namespace}/{key} contains a NUL character (\\u0000) or a lone "
            "surrogate, which cannot be stored as text; remove it. Nothing was written."
        )
    return text


def check_ttl(ttl: Any) -> float | None:
    """``ttl`` (minutes) if it is ``None`` or a finite number in ``(0, MAX_TTL_MINUTES]``,
    else :class:`InvalidInputError` (a negative TTL would hide the item at once, NaN would
    never expire it).

    Example:
        >>> check_ttl(60)
        60.0
        >>> check_ttl(float("nan"))
        Traceback (most recent call last):
        ...
        retain.errors.InvalidInputError: ttl must be a number of minutes > 0 ...
    """
    if ttl is None:
        return None
    ok = isinstance(ttl, (int, float)) and not isinstance(ttl, bool)
    if not ok or not math.isfinite(ttl) or not 0 < ttl <= MAX_TTL_MINUTES:
        raise InvalidInputError(
            f"ttl must be a number of minutes > 0 and at most {MAX_TTL_MINUTES:.0f} (100 "
            f"years), or None for no expiry; got {ttl!r}."
        )
    return float(ttl)


def check_ttl_config(ttl: TTLConfig | None) -> TTLConfig | None:
    """A store's ``ttl`` argument, with its ``default_ttl`` checked like :func:`check_ttl`
    (:class:`ConfigurationError` otherwise)."""
    if ttl is None:
        return None
    if not isinstance(ttl, Mapping):
        raise ConfigurationError(
            f"ttl must be a dict such as {{'default_ttl': 60, 'refresh_on_read': True}}; "
            f"got {ttl!r}."
        )
    try:
        check_ttl(ttl.get("default_ttl"))
    except InvalidInputError as e:
        raise ConfigurationError(f"The store's default_ttl is invalid: {e}") from e
    return ttl


def check_count(name: str, number: Any, minimum: int) -> int:
    """``number`` if it is an integer (``bool`` excluded) from ``minimum`` to
    :data:`MAX_PAGE`, else :class:`InvalidInputError` naming the argument ``name``."""
    if not isinstance(number, int) or isinstance(number, bool) or not minimum <= number <= MAX_PAGE:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}; got {number!r}.")
    return number


def check_page(limit: Any, offset: Any, *, min_limit: int = 0) -> None:
    """:class:`InvalidInputError` unless ``limit >= min_limit`` and ``offset >= 0`` are
    integers (``bool`` excluded) of at most :data:`MAX_PAGE`."""
    check_count("limit", limit, min_limit)
    check_count("offset", offset, 0)


def check_query(query: Any) -> None:
    """:class:`InvalidInputError` unless ``query`` is ``None`` or text without lone
    surrogates."""
    if query is None:
        return
    if not isinstance(query, str) or not _utf8(query):
        raise InvalidInputError(
            f"A search query must be a string of text (no lone surrogates); got {query!r}."
        )


def _check_filter(filter: Any) -> None:
    if filter is None:
        return
    if not isinstance(filter, Mapping):
        raise InvalidInputError(
            f"A search filter must be a dict such as {{'kind': 'fact'}}; got {filter!r}."
        )
    try:
        text = json.dumps(dict(filter), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidInputError(f"A search filter must be JSON: {e}; got {filter!r}.") from e
    if not _utf8(text):
        raise InvalidInputError(f"A search filter contains a lone surrogate: {filter!r}.")


def _check_index(index: Any) -> None:
    """A put's ``index``: ``None``, ``False`` or a list of field paths (a ``str`` would be
    read as one path per character)."""
    if index is None or index is False:
        return
    if not isinstance(index, (list, tuple)) or not all(isinstance(p, str) and p for p in index):
        raise InvalidInputError(
            f"index must be False, None or a list of field paths such as ['content']; got "
            f"{index!r}."
        )


def check_instant(at: Any) -> datetime:
    """``at`` if it is a timezone-aware ``datetime``, else :class:`InvalidInputError`.

    A naive datetime is refused rather than guessed: ``datetime.now()`` is local time,
    which read as UTC would be off by hours. Use ``datetime.now(timezone.utc)``.
    """
    if not isinstance(at, datetime):
        raise InvalidInputError(
            f"at must be a datetime with a timezone; got {type(at).__name__} {at!r}."
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInputError(
            f"at={at!r} has no timezone, so the instant it names is ambiguous; pass an aware "
            "datetime such as datetime.now(timezone.utc) or at.replace(tzinfo=timezone.utc)."
        )
    return at


def check_op(op: Any) -> str | None:
    """Check one operation of a batch; for a put with a value, that value as JSON
    (:func:`encode_value`), else ``None``.

    Raises the typed errors of the checks above, or :class:`InvalidInputError` for an
    object that is not one of LangGraph's operations.
    """
    if isinstance(op, PutOp):
        namespace = check_namespace(op.namespace)
        key = check_key(op.key)
        if op.value is None:
            return None
        check_ttl(op.ttl)
        _check_index(op.index)
        return encode_value(namespace, key, op.value)
    if isinstance(op, GetOp):
        check_namespace(op.namespace)
        check_key(op.key)
    elif isinstance(op, SearchOp):
        check_namespace(op.namespace_prefix, prefix=True)
        check_page(op.limit, op.offset)
        check_query(op.query)
        _check_filter(op.filter)
    elif isinstance(op, ListNamespacesOp):
        check_page(op.limit, op.offset)
        for condition in op.match_conditions or ():
            check_namespace(condition.path, prefix=True)  # "*" is a label like any other
        if op.max_depth is not None:
            check_count("max_depth", op.max_depth, 1)
    else:
        raise InvalidInputError(f"Unknown store operation {type(op).__name__}.")
    return None


class CheckedCalls(BaseStore):
    """``put``, ``get``, ``delete``, ``search``, ``list_namespaces`` and their async twins,
    with retain's namespace check run before LangGraph's, so a bad namespace raises
    retain's :class:`InvalidNamespaceError` (LangGraph's own check would raise first
    otherwise). Everything else is checked in ``batch`` by :func:`check_op`."""


def _check_call(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check the namespaces a call of ``BaseStore.<method>`` (sync name) names."""
    if method == "list_namespaces":
        for path in (kwargs.get("prefix"), kwargs.get("suffix")):
            if path is not None:
                check_namespace(path, prefix=True)  # "*" is a label like any other
    elif args or "namespace" in kwargs:  # without one, Python's TypeError says so
        check_namespace(args[0] if args else kwargs["namespace"], prefix=method == "search")


def _checking(method: str) -> Any:
    """``BaseStore.<method>`` (same signature and docstring), checked first."""
    name = method.removeprefix("a")
    if method == name:

        @functools.wraps(getattr(BaseStore, method))
        def checked(self: BaseStore, *args: Any, **kwargs: Any) -> Any:
            _check_call(name, args, kwargs)
            return getattr(super(CheckedCalls, self), method)(*args, **kwargs)

        return checked

    @functools.wraps(getattr(BaseStore, method))
    async def achecked(self: BaseStore, *args: Any, **kwargs: Any) -> Any:
        _check_call(name, args, kwargs)
        return await getattr(super(CheckedCalls, self), method)(*args, **kwargs)

    return achecked


for _method in ("put", "get", "delete", "search", "list_namespaces"):
    setattr(CheckedCalls, _method, _checking(_method))
    setattr(CheckedCalls, "a" + _method, _checking("a" + _method))
