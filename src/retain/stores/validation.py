"""Checks on what callers hand a store, run before anything is written (pure functions).

LangGraph's ``BaseStore.put`` checks namespaces but ``batch`` does not, and nothing checks
values: a value that is not JSON fails half-way through a write. These checks raise
retain's typed errors up front.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from retain.errors import InvalidInputError, InvalidNamespaceError, InvalidValueError

__all__ = ["check_key", "check_namespace", "encode_value"]


def check_namespace(namespace: Any, *, prefix: bool = False) -> tuple[str, ...]:
    """``namespace`` as a tuple of labels, or :class:`InvalidNamespaceError`.

    Labels must be non-empty strings without ``'.'`` or NUL. A full namespace (``prefix``
    false, as for put and get) also needs at least one label, and its first one may not be
    ``"langgraph"`` (reserved by LangGraph).

    Example:
        >>> check_namespace(("users", "u1"))
        ('users', 'u1')
        >>> check_namespace(("users", "a.b"))
        Traceback (most recent call last):
        ...
        retain.errors.InvalidNamespaceError: Namespace label 'a.b' in ('users', 'a.b') ...
    """
    if isinstance(namespace, str) or not isinstance(namespace, Sequence):
        raise InvalidNamespaceError(
            f"A namespace is a tuple of strings such as ('users', 'u1'); got {namespace!r}."
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
    if not prefix:
        if not labels:
            raise InvalidNamespaceError("A namespace needs at least one label, e.g. ('memories',).")
        if labels[0] == "langgraph":
            raise InvalidNamespaceError(
                f"Namespace {labels} starts with 'langgraph', which LangGraph reserves."
            )
    return labels


def check_key(key: Any) -> str:
    """``key`` if it is a non-empty string, else :class:`InvalidInputError`."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"An item key must be a non-empty string; got {key!r}.")
    return key


def encode_value(namespace: tuple[str, ...], key: str, value: Any) -> str:
    """``value`` as JSON text, or :class:`InvalidValueError` saying which item and why.

    Values must be JSON objects: a ``dict`` with string keys whose values are strings,
    numbers (finite), booleans, ``None``, lists or such dicts.

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
    try:
        return json.dumps(dict(value), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidValueError(
            f"The value of {namespace}/{key} is not JSON: {e}. Convert it first (e.g. "
            "datetimes to ISO strings, sets to lists, NaN to None); nothing was written."
        ) from e
