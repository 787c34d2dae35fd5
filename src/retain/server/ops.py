"""LangGraph store ops and their results as JSON, both ways: what ``POST /v1/batch``
carries between :class:`retain.client.RemoteStore` and the server.

Example:
    >>> from langgraph.store.base import GetOp, PutOp
    >>> ops = [PutOp(("users", "u1"), "k", {"v": 1}), GetOp(("users", "u1"), "k")]
    >>> decode_ops(encode_ops(ops)) == ops
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchItem,
    SearchOp,
)

from retain.errors import InvalidInputError
from retain.server.models import item_out

__all__ = ["decode_ops", "decode_results", "encode_ops", "encode_results"]


def encode_ops(ops: Sequence[Op]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for op in ops:
        if isinstance(op, GetOp):
            out.append(
                {
                    "op": "get",
                    "namespace": list(op.namespace),
                    "key": op.key,
                    "refresh_ttl": op.refresh_ttl,
                }
            )
        elif isinstance(op, PutOp):
            out.append(
                {
                    "op": "put",
                    "namespace": list(op.namespace),
                    "key": op.key,
                    "value": op.value,
                    "index": op.index,
                    "ttl": op.ttl,
                }
            )
        elif isinstance(op, SearchOp):
            out.append(
                {
                    "op": "search",
                    "namespace_prefix": list(op.namespace_prefix),
                    "query": op.query,
                    "filter": op.filter,
                    "limit": op.limit,
                    "offset": op.offset,
                    "refresh_ttl": op.refresh_ttl,
                }
            )
        elif isinstance(op, ListNamespacesOp):
            out.append(
                {
                    "op": "list_namespaces",
                    "match_conditions": [
                        {"match_type": c.match_type, "path": list(c.path)}
                        for c in op.match_conditions or ()
                    ],
                    "max_depth": op.max_depth,
                    "limit": op.limit,
                    "offset": op.offset,
                }
            )
        else:
            raise InvalidInputError(f"Unknown store op {type(op).__name__}.")
    return out


def _labels(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{what} must be a list of strings; got {value!r}.")
    return tuple(value)


def _int(value: Any, what: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what} must be an integer >= 0; got {value!r}.")
    return value


def _decode(raw: Any) -> Op:
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"A store op is a JSON object; got {raw!r}.")
    kind = raw.get("op")
    if kind == "get":
        return GetOp(
            _labels(raw.get("namespace"), "namespace"),
            str(raw.get("key")),
            refresh_ttl=bool(raw.get("refresh_ttl", True)),
        )
    if kind == "put":
        value = raw.get("value")
        if value is not None and not isinstance(value, dict):
            raise InvalidInputError("A put's value must be a JSON object (or null to delete).")
        index = raw.get("index")
        fields_ok = isinstance(index, list) and all(isinstance(f, str) and f for f in index)
        if not (index is None or index is False or (fields_ok and len(set(index)) == len(index))):
            raise InvalidInputError(
                "A put's index must be null, false or a list of distinct field paths."
            )
        ttl = raw.get("ttl")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
            raise InvalidInputError("A put's ttl must be a number of minutes or null.")
        return PutOp(
            _labels(raw.get("namespace"), "namespace"),
            str(raw.get("key")),
            value,
            index=index,
            ttl=ttl,
        )
    if kind == "search":
        query = raw.get("query")
        filt = raw.get("filter")
        if query is not None and not isinstance(query, str):
            raise InvalidInputError("A search's query must be a string or null.")
        if filt is not None and not isinstance(filt, dict):
            raise InvalidInputError("A search's filter must be a JSON object or null.")
        return SearchOp(
            _labels(raw.get("namespace_prefix"), "namespace_prefix"),
            filter=filt,
            limit=_int(raw.get("limit"), "limit", 10),
            offset=_int(raw.get("offset"), "offset", 0),
            query=query,
            refresh_ttl=bool(raw.get("refresh_ttl", True)),
        )
    if kind == "list_namespaces":
        conditions = raw.get("match_conditions") or []
        if not isinstance(conditions, list):
            raise InvalidInputError("match_conditions must be a list.")
        parsed = []
        for c in conditions:
            if not isinstance(c, Mapping) or c.get("match_type") not in ("prefix", "suffix"):
                raise InvalidInputError(f"Bad match condition {c!r}.")
            parsed.append(MatchCondition(c["match_type"], _labels(c.get("path"), "path")))
        depth = raw.get("max_depth")
        return ListNamespacesOp(
            match_conditions=tuple(parsed) or None,
            max_depth=None if depth is None else _int(depth, "max_depth", 0),
            limit=_int(raw.get("limit"), "limit", 100),
            offset=_int(raw.get("offset"), "offset", 0),
        )
    raise InvalidInputError(f"Unknown op {kind!r}; use get, put, search or list_namespaces.")


def decode_ops(raw: Sequence[Any]) -> list[Op]:
    return [_decode(r) for r in raw]


def encode_results(results: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for result in results:
        if isinstance(result, Item):
            out.append(item_out(result))
        elif isinstance(result, list):
            out.append([item_out(r) if isinstance(r, Item) else list(r) for r in result])
        else:
            out.append(None)
    return out


def _item(raw: Mapping[str, Any], search: bool) -> Item:
    common: dict[str, Any] = {
        "namespace": tuple(raw["namespace"]),
        "key": raw["key"],
        "value": raw["value"],
        "created_at": datetime.fromisoformat(raw["created_at"]),
        "updated_at": datetime.fromisoformat(raw["updated_at"]),
    }
    if search:
        return SearchItem(score=raw.get("score"), **common)
    return Item(**common)


def decode_results(ops: Sequence[Op], raw: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for op, result in zip(ops, raw, strict=True):
        if isinstance(op, GetOp):
            out.append(None if result is None else _item(result, False))
        elif isinstance(op, SearchOp):
            out.append([_item(r, True) for r in result])
        elif isinstance(op, ListNamespacesOp):
            out.append([tuple(ns) for ns in result])
        else:
            out.append(None)
    return out
