"""What every retain store shares: the extension API beyond LangGraph's ``BaseStore``,
history versions, provenance, filters and recall scoring (pure functions)."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import json
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from langgraph.store.base import (
    BaseStore,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from retain.clock import Clock
from retain.core.ranking import Doc, Ranking, RecallFlow, Scored, recall_flow
from retain.core.temporal import as_utc
from retain.embeddings import DEFAULT_EMBED, MINILM_DIMS, resolve_embeddings
from retain.errors import ConfigurationError, InvalidInputError
from retain.stores.validation import check_instant, check_namespace, check_page

__all__ = [
    "SEP",
    "NamespaceCounts",
    "NamespaceSummary",
    "RankedItem",
    "RecallArgs",
    "RecallMode",
    "RetainStore",
    "Version",
    "current_page",
    "current_provenance",
    "export_records",
    "index_texts",
    "matches_filter",
    "namespace_matches",
    "namespace_page",
    "namespace_summaries",
    "ns_text",
    "ns_tuple",
    "parse_index",
    "provenance",
    "recall_args",
    "search_args",
    "value_strings",
]

SEP = "."
"""How a namespace is stored as one text: its labels joined by ``"."``."""


def ns_text(namespace: Sequence[str]) -> str:
    return SEP.join(namespace)


def ns_tuple(prefix: str) -> tuple[str, ...]:
    return tuple(prefix.split(SEP))


RecallMode = Literal["hybrid", "vector", "keyword"]

T = TypeVar("T")
Y = TypeVar("Y")

_PROVENANCE: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "retain_provenance", default=None
)


@contextlib.contextmanager
def provenance(**fields: Any) -> Iterator[None]:
    """Record ``fields`` in the history of every put and delete made inside the block.

    Example:
        >>> from retain.stores import SQLiteStore, provenance
        >>> store = SQLiteStore(":memory:")
        >>> with provenance(thread_id="t-1", source="import"):
        ...     store.put(("memories",), "k", {"content": "User likes tea"})
        >>> store.history(("memories",), "k")[0].provenance
        {'thread_id': 't-1', 'source': 'import'}
    """
    merged = {**(_PROVENANCE.get() or {}), **fields}
    token = _PROVENANCE.set(merged)
    try:
        yield
    finally:
        _PROVENANCE.reset(token)


def current_provenance() -> dict[str, Any]:
    """The provenance fields in effect (see :func:`provenance`)."""
    return dict(_PROVENANCE.get() or {})


@dataclass(frozen=True)
class Version:
    """One entry of an item's history: a put (``value``) or a delete (``value is None``)."""

    version: int
    op: Literal["put", "delete"]
    value: dict[str, Any] | None
    at: datetime
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class NamespaceSummary:
    """One namespace holding live items: how many, and when one was last written (UTC).

    What :meth:`RetainStore.namespace_summary` returns, one per namespace, sorted by
    namespace (counted by the database, no memory is read).

    Example:
        >>> from retain.stores import SQLiteStore
        >>> store = SQLiteStore(":memory:", index=False)
        >>> store.put(("users", "u1", "memories"), "a", {"content": "likes tea"})
        >>> store.put(("users", "u1", "memories"), "b", {"content": "has a cat"})
        >>> store.put(("users", "u2", "memories"), "c", {"content": "runs"})
        >>> [(s.namespace, s.items) for s in store.namespace_summary(("users",))]
        [(('users', 'u1', 'memories'), 2), (('users', 'u2', 'memories'), 1)]
        >>> store.namespace_summary(("users", "u1"))[0].last_activity.tzname()
        'UTC'
    """

    namespace: tuple[str, ...]
    items: int
    last_activity: datetime


NamespaceCounts = list[tuple[str, int, datetime]]
"""What a back-end's grouped count answers: ``(namespace text, live items, newest
updated_at)`` per namespace, in any order."""


def namespace_summaries(rows: Iterable[tuple[str, int, datetime]]) -> list[NamespaceSummary]:
    """:class:`NamespaceSummary` entries from a back-end's :data:`NamespaceCounts`,
    sorted by namespace (as tuples: ``users.u1`` before ``users-x``), times in UTC."""
    return sorted(
        NamespaceSummary(ns_tuple(text), int(count), last.astimezone(timezone.utc))
        for text, count, last in rows
    )


class RankedItem(SearchItem):
    """A recalled memory with the parts of its score: what :meth:`RetainStore.recall` (and
    a ranked ``search``) returns, so a caller can show why it ranked.

    ``vector`` is the memory's normalised vector similarity and ``keyword`` its normalised
    BM25 keyword relevance, both 0-1 (:class:`retain.core.ranking.Scored`); ``context`` is
    what its strong neighbours and the names and dates the query names added; ``score``
    mixes them (and recency and importance, when asked for).
    """

    __slots__ = ("context", "keyword", "vector")

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime,
        updated_at: datetime,
        score: float | None = None,
        *,
        vector: float = 0.0,
        keyword: float = 0.0,
        context: float = 0.0,
    ) -> None:
        super().__init__(namespace, key, value, created_at, updated_at, score=score)
        self.vector = vector
        self.keyword = keyword
        self.context = context

    @classmethod
    def scored(
        cls,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime,
        updated_at: datetime,
        score: Scored,
    ) -> RankedItem:
        """The item with a ranking's score and its parts."""
        return cls(
            namespace,
            key,
            value,
            created_at,
            updated_at,
            score.score,
            vector=score.vector,
            keyword=score.keyword,
            context=score.context,
        )


def _compare(value: Any, condition: Any) -> bool:
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        return all(_operator(value, op, target) for op, target in condition.items())
    return bool(value == condition)


def _operator(value: Any, op: str, target: Any) -> bool:
    if op == "$eq":
        return bool(value == target)
    if op == "$ne":
        return bool(value != target)
    if value is None:
        return False
    try:
        if op == "$gt":
            return bool(value > target)
        if op == "$gte":
            return bool(value >= target)
        if op == "$lt":
            return bool(value < target)
        if op == "$lte":
            return bool(value <= target)
    except TypeError:
        return False
    raise InvalidInputError(f"Unknown filter operator {op!r}; use $eq, $ne, $gt, $gte, $lt, $lte.")


def matches_filter(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """LangGraph's filter semantics: exact match, or ``{"$gt": 3}``-style operators
    (compared as numbers when both sides are numbers)."""
    if not filter:
        return True
    return all(_compare(value.get(k), cond) for k, cond in filter.items())


def value_strings(value: Any) -> list[str]:
    """Every string inside a JSON value, depth first (what ``"$"`` indexes)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in value_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in value_strings(v)]
    return []


Fields = list[tuple[str, Any]]
"""Index field paths with their tokenized form, as :func:`parse_index` returns them."""


def parse_index(
    index: IndexConfig | Mapping[str, Any] | Literal[False] | None,
) -> tuple[dict[str, Any] | None, Any, str | None, Fields]:
    """LangGraph's index config resolved: ``(config, embeddings, embedding id, fields)``.

    ``None`` (the default of retain's stores) is the offline MiniLM embedding
    (``{"embed": "local:minilm", "dims": 384}``); ``False`` opts out: no embeddings, and
    the whole value (``"$"``) is the keyword text.
    """
    if index is False:
        return None, None, None, [("$", "$")]
    if index is None:
        index = {"embed": DEFAULT_EMBED, "dims": MINILM_DIMS}
    if not isinstance(index, Mapping) or not index:
        raise ConfigurationError(
            "index must be a dict like {'embed': 'local:minilm', 'dims': 384}, None (the "
            f"default embedding) or False (keywords only); got {index!r}."
        )
    config = dict(index)
    embeddings, ident = resolve_embeddings(config.get("embed"))
    dims = config.get("dims") or getattr(embeddings, "dims", None)
    if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
        raise ConfigurationError("index needs 'dims' (the embedding size, an integer >= 1).")
    config["dims"] = dims
    fields = config.get("fields") or ["$"]
    return config, embeddings, ident, [(f, tokenize_path(f)) for f in fields]


_STAMPS = frozenset({"said_at", "valid_from", "valid_to", "superseded_by"})


def index_texts(
    value: Mapping[str, Any] | None, fields: Fields, index: Literal[False] | list[str] | None
) -> list[tuple[str, str]]:
    """``(field path, text)`` pairs to index for a put of ``value``.

    ``index`` is the put's own ``index`` argument: ``False`` indexes nothing, a list of
    paths replaces the store's ``fields``. ``"$"`` is every string of the value joined,
    except the time stamps retain keeps beside a fact (top-level ``said_at``,
    ``valid_from``, ``valid_to``, ``superseded_by``: :mod:`retain.core.temporal`), which
    are not words to match; a path that matches several strings yields ``path.0``,
    ``path.1``, ...

    Example:
        >>> index_texts({"content": "User moved", "said_at": "2026-12-07"}, [("$", "$")], None)
        [('$', 'User moved')]
    """
    if value is None or index is False:
        return []
    chosen = fields if index is None else [(f, tokenize_path(f)) for f in index]
    out: list[tuple[str, str]] = []
    for path, tokens in chosen:
        raw = value.get(path) if path.isidentifier() else None
        if isinstance(raw, str):  # a top-level key holding text: the common case, made quick
            texts = [raw]
        elif path == "$":
            texts = [" ".join(value_strings({k: v for k, v in value.items() if k not in _STAMPS}))]
        else:
            texts = get_text_at_path(value, tokens)
        if len(texts) == 1:
            out.append((path, texts[0]))
        else:
            out.extend((f"{path}.{i}", t) for i, t in enumerate(texts))
    return [(p, t) for p, t in out if t]


def namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """LangGraph's ``list_namespaces`` match condition (prefix or suffix, ``*`` wildcards)."""
    path = tuple(condition.path)
    if len(path) > len(namespace):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True))


def namespace_page(prefixes: Iterable[str], op: ListNamespacesOp) -> list[tuple[str, ...]]:
    """LangGraph's ``list_namespaces`` answer from the stored namespace texts of the live
    items: those matching ``op``'s conditions, cut at ``max_depth``, sorted, one page."""
    namespaces = [ns_tuple(p) for p in prefixes]
    if op.match_conditions:
        namespaces = [
            ns for ns in namespaces if all(namespace_matches(c, ns) for c in op.match_conditions)
        ]
    if op.max_depth is not None:
        namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
    else:
        namespaces = sorted(namespaces)
    return namespaces[op.offset : op.offset + op.limit]


@dataclass(frozen=True)
class RecallArgs:
    """The checked arguments of one :meth:`RetainStore.recall` (see :func:`recall_args`)."""

    prefix: tuple[str, ...]
    query: str | None
    filter: dict[str, Any] | None
    limit: int
    offset: int
    mode: RecallMode
    settings: Ranking
    as_of: datetime | None
    include_superseded: bool

    def ranking(
        self, *, vectors: bool, now: float, memo: dict[tuple[int, float], Doc]
    ) -> RecallFlow:
        """:func:`retain.core.ranking.recall_flow` for this recall (with a query), its
        page's worth of results wanted."""
        assert self.query is not None
        return recall_flow(
            self.query,
            mode=self.mode,
            vectors=vectors,
            want=self.offset + self.limit,
            settings=self.settings,
            now=now,
            as_of=self.as_of,
            include_superseded=self.include_superseded,
            memo=memo,
        )


def search_args(op: SearchOp) -> RecallArgs:
    """A LangGraph ``search`` with a query as a recall: hybrid ranking with the default
    settings, every item (superseded facts included), as LangGraph's own search returns."""
    return RecallArgs(
        tuple(op.namespace_prefix),
        op.query,
        op.filter,
        op.limit,
        op.offset,
        "hybrid",
        Ranking(),
        None,
        True,
    )


@functools.cache
def _recall_signature() -> inspect.Signature:
    return inspect.signature(RetainStore.recall)


def recall_args(namespace_prefix: Any, /, **given: Any) -> RecallArgs:
    """The arguments of :meth:`RetainStore.recall` (its defaults for those not ``given``;
    an unknown one is a ``TypeError``) checked: the prefix, the ranking settings
    (``ranking`` with the weights given here applied) and ``as_of`` in UTC, or a typed
    error."""
    bound = _recall_signature().bind(None, namespace_prefix, **given)
    bound.apply_defaults()
    v = bound.arguments
    if not isinstance(v["include_superseded"], bool):
        raise InvalidInputError(
            f"include_superseded must be True or False; got {v['include_superseded']!r}."
        )
    at = None if v["as_of"] is None else as_utc(v["as_of"], argument="as_of")
    if v["mode"] not in ("hybrid", "vector", "keyword"):
        raise InvalidInputError(f"mode must be 'hybrid', 'vector' or 'keyword'; got {v['mode']!r}.")
    check_page(v["limit"], v["offset"], min_limit=1)
    if not isinstance(v["recency_half_life"], timedelta):
        raise InvalidInputError("recency_half_life must be a datetime.timedelta.")
    prefix = check_namespace(namespace_prefix, prefix=True)
    settings = dataclasses.replace(
        v["ranking"] or Ranking(),
        recency_weight=v["recency_weight"],
        recency_half_life_s=v["recency_half_life"].total_seconds(),
        importance_weight=v["importance_weight"],
        importance_field=v["importance_field"],
    )
    return RecallArgs(
        prefix,
        v["query"],
        v["filter"],
        v["limit"],
        v["offset"],
        v["mode"],
        settings,
        at,
        v["include_superseded"],
    )


def current_page(
    read: Callable[[int, int], Generator[Y, Any, Sequence[T]]],
    keep: Callable[[T], bool],
    limit: int,
    offset: int,
) -> Generator[Y, Any, list[T]]:
    """``limit`` entries from ``offset`` among those ``keep`` accepts, read a chunk at a
    time with the steps ``read(limit, offset)`` (entries in a stable order): recall
    without a query, which lists the namespace, leaves out the facts that do not hold.
    The steps are the caller's (:mod:`retain.twins` calls, SQL steps)."""
    chunk = max(2 * (offset + limit), 100)
    kept: list[T] = []
    start = 0
    while len(kept) < offset + limit:
        found = yield from read(chunk, start)
        kept += [entry for entry in found if keep(entry)]
        if len(found) < chunk:
            break
        start += chunk
    return kept[offset : offset + limit]


def export_records(
    items: Iterable[tuple[tuple[str, ...], str, Any, datetime, datetime]],
    versions: Iterable[tuple[tuple[str, ...], str, int, str, Any, datetime, Any]],
) -> Iterator[dict[str, Any]]:
    """The records of :meth:`RetainStore.export`: items ``(namespace, key, value, created,
    updated)``, then versions ``(namespace, key, version, op, value, at, provenance)``."""
    for ns, key, value, created, updated in items:
        yield {
            "type": "item",
            "namespace": list(ns),
            "key": key,
            "value": value,
            "created_at": created.isoformat(),
            "updated_at": updated.isoformat(),
        }
    for ns, key, version, op, value, at, prov in versions:
        yield {
            "type": "version",
            "namespace": list(ns),
            "key": key,
            "version": version,
            "op": op,
            "value": value,
            "at": at.isoformat(),
            "provenance": prov or {},
        }


class RetainStore(BaseStore):
    """A LangGraph ``BaseStore`` with retain's extensions: hybrid recall with recency and
    importance weighting, per-item history with provenance, purge, export and re-embedding.

    Every method has an ``a``-prefixed async twin.
    """

    supports_ttl = True
    _clock: Clock

    @property
    def clock(self) -> Clock:
        """The store's time source (``clock=`` when it was opened; :mod:`retain.clock`)."""
        return self._clock

    def recall(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        mode: RecallMode = "hybrid",
        recency_weight: float = 0.0,
        recency_half_life: timedelta = timedelta(days=30),
        importance_weight: float = 0.0,
        importance_field: str = "importance",
        ranking: Ranking | None = None,
        as_of: datetime | None = None,
        include_superseded: bool = False,
    ) -> list[SearchItem]:
        """Recall by keywords and meaning: the best memories under ``namespace_prefix`` for
        ``query`` (without a query: the newest first).

        Only facts that hold are returned (:func:`retain.core.temporal.holds`): by
        default the current ones (a fact another superseded has a ``valid_to``); with
        ``as_of``, those valid at that time; ``include_superseded=True`` keeps ended ones.

        ``mode="hybrid"`` (the default) fuses normalised keyword and vector scores, lifts
        the neighbours of strong matches and memories from a date the query names
        (:mod:`retain.core.ranking`); ``"vector"`` ranks by cosine similarity only (the
        score is the cosine), ``"keyword"`` by keyword relevance only.
        ``recency_weight`` and ``importance_weight`` mix in ``0.5 ** (age / half_life)``
        and a numeric ``importance_field`` of the value (clamped to [0, 1]); ``ranking``
        replaces the other settings (:class:`retain.core.ranking.Ranking`).
        """
        return self._recall(
            recall_args(
                namespace_prefix,
                query=query,
                filter=filter,
                limit=limit,
                offset=offset,
                mode=mode,
                recency_weight=recency_weight,
                recency_half_life=recency_half_life,
                importance_weight=importance_weight,
                importance_field=importance_field,
                ranking=ranking,
                as_of=as_of,
                include_superseded=include_superseded,
            )
        )

    async def arecall(
        self, namespace_prefix: tuple[str, ...], /, **kwargs: Any
    ) -> list[SearchItem]:
        """Async :meth:`recall` (same arguments)."""
        return await self._arecall(recall_args(namespace_prefix, **kwargs))

    @abstractmethod
    def _recall(self, args: RecallArgs) -> list[SearchItem]:
        """Carry out a checked recall."""

    async def _arecall(self, args: RecallArgs) -> list[SearchItem]:
        found: list[SearchItem] = await self._in_thread(self._recall, args)
        return found

    @abstractmethod
    def history(self, namespace: tuple[str, ...], key: str) -> list[Version]:
        """Every version of one item, oldest first, deletions included."""

    async def ahistory(self, namespace: tuple[str, ...], key: str) -> list[Version]:
        found: list[Version] = await self._in_thread(self.history, namespace, key)
        return found

    def namespace_summary(
        self, namespace_prefix: tuple[str, ...] = (), /
    ) -> list[NamespaceSummary]:
        """Each namespace under ``namespace_prefix`` (whole labels: ``("users",)`` leaves
        out ``("users-x",)``) with its number of live items and its last write, sorted by
        namespace; expired items (TTL) are not counted, as search leaves them out.

        One grouped count in the database: no memory is read or decoded, so it costs a
        scan of the index, not of the values. See :class:`NamespaceSummary`.
        """
        return namespace_summaries(
            self._namespace_counts(check_namespace(namespace_prefix, prefix=True))
        )

    async def anamespace_summary(
        self, namespace_prefix: tuple[str, ...] = (), /
    ) -> list[NamespaceSummary]:
        """Async :meth:`namespace_summary`."""
        prefix = check_namespace(namespace_prefix, prefix=True)
        return namespace_summaries(await self._anamespace_counts(prefix))

    @abstractmethod
    def _namespace_counts(self, prefix: tuple[str, ...]) -> NamespaceCounts:
        """The live items under a checked prefix, grouped by namespace in SQL."""

    async def _anamespace_counts(self, prefix: tuple[str, ...]) -> NamespaceCounts:
        found: NamespaceCounts = await self._in_thread(self._namespace_counts, prefix)
        return found

    def get_as_of(self, namespace: tuple[str, ...], key: str, at: datetime) -> Item | None:
        """The item as it was at ``at`` (``None`` if it did not exist then), read from its
        history; ``at`` must be timezone-aware."""
        versions = [v for v in self.history(namespace, key) if v.at <= check_instant(at)]
        last = versions[-1] if versions else None
        if last is None or last.value is None:
            return None
        created: datetime | None = None
        for v in versions:  # an item deleted and put again was created again
            if v.op == "delete":
                created = None
            elif created is None:
                created = v.at
        return Item(
            value=last.value,
            key=key,
            namespace=tuple(namespace),
            created_at=created or last.at,
            updated_at=last.at,
        )

    def restore(self, namespace: tuple[str, ...], key: str, version: int) -> Item:
        """Put back the value of ``version``; the restore is itself a new version (its
        provenance says ``restored_from``)."""
        found = [v for v in self.history(namespace, key) if v.version == version]
        if not found or found[0].value is None:
            raise InvalidInputError(
                f"{namespace}/{key} has no version {version} with a value to restore; see "
                "store.history(namespace, key)."
            )
        with provenance(restored_from=version):
            self.put(namespace, key, found[0].value)
        item = self.get(namespace, key)
        assert item is not None
        return item

    def export_jsonl(self, namespace_prefix: tuple[str, ...], path: str | Path) -> int:
        """Write :meth:`export` to a JSON-lines file; returns the number of lines."""
        count = 0
        with open(path, "w", encoding="utf-8") as out:
            for record in self.export(namespace_prefix):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        return count

    @abstractmethod
    def purge(self, namespace_prefix: tuple[str, ...]) -> int:
        """Delete everything under the prefix (items, vectors, keyword index, history);
        returns the number of items removed."""

    async def apurge(self, namespace_prefix: tuple[str, ...]) -> int:
        count: int = await self._in_thread(self.purge, namespace_prefix)
        return count

    @abstractmethod
    def export(self, namespace_prefix: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """Everything under the prefix as JSON-serialisable records (items, then history)."""

    @abstractmethod
    def reembed(self, *, batch_size: int = 64) -> int:
        """Recompute every vector with the store's current embedding model."""

    async def _in_thread(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        return await asyncio.to_thread(func, *args, **kwargs)
