"""The read side of :class:`retain.stores.PostgresStore`, as step generators (see
:mod:`retain.stores.pg_driver`): get, list, search (exact per namespace, HNSW only for wide
prefixes), full-text ranking, and recall ranked by :mod:`retain.core.ranking`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from langgraph.store.base import GetOp, Item, ListNamespacesOp, SearchItem, SearchOp

from retain.clock import Clock
from retain.core.ranking import (
    Doc,
    FindKeyword,
    FindVector,
    KeywordStats,
    Load,
    RecallRequest,
    Scored,
    drive,
)
from retain.core.temporal import holds
from retain.errors import EmbeddingDimensionError
from retain.stores.base import (
    NamespaceCounts,
    RankedItem,
    RecallArgs,
    current_page,
    index_texts,
    namespace_page,
    ns_text,
    ns_tuple,
    search_args,
)
from retain.stores.pg_driver import Sql, Steps
from retain.stores.pg_schema import filter_sql, under_params, under_sql

__all__ = ["PgReads"]


def _similarity(distance: Any) -> float:
    """Cosine similarity from pgvector's distance; 0.0 for a zero vector (NaN distance)."""
    d = float(distance)
    return 0.0 if math.isnan(d) else 1.0 - d


STATS_SECONDS = 60.0
"""How long a :class:`~retain.stores.PostgresStore` reuses a namespace's keyword counts."""


def _refreshable(rows: Sequence[Sequence[Any]], refresh: bool) -> list[int]:
    """Ids of the rows whose TTL a read refreshes: none unless asked, and only items with
    a TTL (so a read of items without one writes nothing)."""
    return [int(r[5]) for r in rows if r[6] is not None] if refresh else []


class PgReads:
    """Mixin of the read steps; the store provides the attributes below."""

    _dims: int
    _ann: bool
    ann_threshold: int
    text_search_config: str
    embeddings: Any
    _clock: Clock
    _docs: dict[tuple[int, float], Doc]  # rows split for ranking
    _stats_cache: dict[tuple[str, str], tuple[float, int]]  # (prefix, term) -> (until, n)
    _fields: Any

    # -- reads -------------------------------------------------------------------------------

    # row[5] is the item id, row[6] its TTL (minutes; NULL without one)
    _COLUMNS = "i.prefix, i.key, i.value, i.created_at, i.updated_at, i.id, i.ttl_minutes"
    _LIVE = "(i.expires_at IS NULL OR i.expires_at > %(now)s)"

    @staticmethod
    def _item(row: Sequence[Any], score: float | Scored | None = None, search: bool = False) -> Any:
        prefix, key, value, created, updated = row[:5]
        if isinstance(score, Scored):  # ranked: keep the parts of the score
            return RankedItem.scored(ns_tuple(prefix), key, value, created, updated, score)
        if search:
            return SearchItem(ns_tuple(prefix), key, value, created, updated, score=score)
        return Item(
            value=value, key=key, namespace=ns_tuple(prefix), created_at=created, updated_at=updated
        )

    def _get(self, op: GetOp, now: datetime) -> Steps[tuple[Item | None, list[int]]]:
        rows = yield Sql(
            f"SELECT {self._COLUMNS} FROM retain_items i WHERE i.prefix = %(p)s AND "
            f"i.key = %(k)s AND {self._LIVE}",
            {"p": ns_text(op.namespace), "k": op.key, "now": now},
        )
        if not rows:
            return None, []
        return self._item(rows[0]), _refreshable(rows[:1], op.refresh_ttl)

    def _listed(
        self,
        prefix: str,
        flt: dict[str, Any] | None,
        limit: int,
        offset: int,
        now: datetime,
        extra: str = "TRUE",
    ) -> Steps[list[tuple[Any, ...]]]:
        params: dict[str, Any] = {**under_params(prefix), "now": now, "l": limit, "o": offset}
        where = filter_sql(flt, "i.value", params)
        rows = yield Sql(
            f"SELECT {self._COLUMNS} FROM retain_items i WHERE {under_sql('i.prefix')} AND "
            f"{self._LIVE} AND {where} AND {extra} ORDER BY i.updated_at DESC, i.id "
            "LIMIT %(l)s OFFSET %(o)s",
            params,
        )
        return rows

    def _by_ids(
        self,
        ids: Sequence[int],
        now: datetime,
        prefix: str | None = None,
        flt: dict[str, Any] | None = None,
    ) -> Steps[dict[int, tuple[Any, ...]]]:
        if not ids:
            return {}
        params: dict[str, Any] = {"ids": list(ids), "now": now}
        where = "TRUE"
        if prefix is not None:
            params.update(under_params(prefix))
            where = f"{under_sql('i.prefix')} AND {filter_sql(flt, 'i.value', params)}"
        rows = yield Sql(
            f"SELECT {self._COLUMNS} FROM retain_items i WHERE i.id = ANY(%(ids)s) AND "
            f"{self._LIVE} AND {where}",
            params,
        )
        return {r[5]: r for r in rows}

    def _vector_ranking(
        self, prefix: str, q: Any, flt: dict[str, Any] | None, limit: int, now: datetime
    ) -> Steps[tuple[list[tuple[int, float]], dict[int, tuple[Any, ...]]]]:
        """``(item id, cosine similarity)`` best first (max over an item's fields), and the
        item rows the ranking query already read (by id; the ANN path reads none)."""
        params: dict[str, Any] = {**under_params(prefix), "now": now, "l": limit}
        params["q"] = self._vector(np.asarray(q).reshape(-1), "a query vector")
        if self._ann and not flt:
            params["t"] = self.ann_threshold
            count = yield Sql(
                "SELECT count(*) FROM (SELECT 1 FROM retain_vectors v WHERE "
                f"{under_sql('v.prefix')} LIMIT %(t)s + 1) s",
                params,
            )
            if count[0][0] > self.ann_threshold:
                return (yield from self._ann_ranking(params)), {}
        if not flt:
            return (yield from self._exact_ranking(params))
        where = filter_sql(flt, "i.value", params)
        rows = yield Sql(  # i.id is the key of i: its columns may be selected per group
            f"SELECT {self._COLUMNS}, min(v.embedding <=> %(q)s) AS d FROM retain_vectors v "
            f"JOIN retain_items i ON i.id = v.item_id WHERE {under_sql('v.prefix')} AND "
            f"{under_sql('i.prefix')} AND {self._LIVE} AND {where} "
            "GROUP BY i.id ORDER BY d, i.id LIMIT %(l)s",
            params,
        )
        return [(int(r[5]), _similarity(r[7])) for r in rows], {int(r[5]): r[:7] for r in rows}

    def _exact_ranking(
        self, params: dict[str, Any]
    ) -> Steps[tuple[list[tuple[int, float]], dict[int, tuple[Any, ...]]]]:
        """Exact ranking in one statement: the nearest vector rows under the prefix (a
        top-N sort of that namespace's rows only, no join inside), then their items by
        primary key, with a flag for live ones; fetches more rows if expired items or
        several fields per item leave fewer than ``limit`` items."""
        limit = int(params["l"])
        fetch = limit
        while True:
            rows = yield Sql(
                f"SELECT {self._COLUMNS}, s.d, {self._LIVE} FROM (SELECT v.item_id, "
                "v.embedding <=> %(q)s AS d FROM retain_vectors v "
                f"WHERE {under_sql('v.prefix')} ORDER BY d, v.item_id LIMIT %(f)s) s "
                "JOIN retain_items i ON i.id = s.item_id ORDER BY s.d, s.item_id",
                {**params, "f": fetch},
            )
            best: dict[int, float] = {}
            items: dict[int, tuple[Any, ...]] = {}
            for r in rows:  # best first: the first row of an item is its best
                if r[8] and int(r[5]) not in best:
                    best[int(r[5])] = _similarity(r[7])
                    items[int(r[5])] = r[:7]
            if len(best) >= limit or len(rows) < fetch:
                return list(best.items())[:limit], items
            fetch *= 4

    def _ann_ranking(self, params: dict[str, Any]) -> Steps[list[tuple[int, float]]]:
        dims = self._dims
        yield Sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
        yield Sql(f"SET LOCAL hnsw.ef_search = {max(100, min(1000, 2 * int(params['l'])))}")
        rows = yield Sql(
            "SELECT s.item_id, min(s.d) AS d FROM (SELECT v.item_id, "
            f"(v.embedding::vector({dims})) <=> %(q)s::vector({dims}) AS d FROM retain_vectors v "
            f"WHERE {under_sql('v.prefix')} ORDER BY d LIMIT %(l)s * 2) s "
            f"JOIN retain_items i ON i.id = s.item_id WHERE {self._LIVE} "
            "GROUP BY s.item_id ORDER BY d, s.item_id LIMIT %(l)s",
            params,
        )
        return [(int(r[0]), _similarity(r[1])) for r in rows]

    def _keyword_ranking(
        self, prefix: str, find: FindKeyword, flt: dict[str, Any] | None, now: datetime
    ) -> Steps[list[tuple[int, float]]]:
        """:class:`retain.core.ranking.FindKeyword`: the items matching any of the terms
        whose matched terms weigh most, heaviest first (ties: newest first)."""
        if not find.terms:
            return []
        params: dict[str, Any] = {**under_params(prefix), "now": now, "l": find.k}
        params["cfg"] = self.text_search_config
        weight, queries = [], []
        for n, (term, w) in enumerate(zip(find.terms, find.weights, strict=True)):
            params[f"t{n}"], params[f"w{n}"] = term, w
            # each term's query once, in FROM: a prepared statement's generic plan would
            # parse a query written in the select list again for every row
            queries.append(f"plainto_tsquery(%(cfg)s::regconfig, %(t{n})s) q{n}")
            weight.append(f"CASE WHEN i.body @@ q{n} THEN %(w{n})s::float8 ELSE 0 END")
        where = filter_sql(flt, "i.value", params)
        # a memory matches when one of the terms does (the terms' queries, or-ed)
        match = " || ".join(f"q{n}" for n in range(len(queries)))
        rows = yield Sql(
            f"SELECT i.id, {' + '.join(weight)} AS r FROM retain_items i, {', '.join(queries)} "
            f"WHERE i.body @@ ({match}) AND {under_sql('i.prefix')} AND {self._LIVE} AND {where} "
            "ORDER BY r DESC, i.id DESC LIMIT %(l)s",
            params,
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def _keyword_stats(
        self, prefix: str, terms: Sequence[str], now: datetime
    ) -> Steps[tuple[int, dict[str, int]]]:
        """How many live items lie under ``prefix``, and how many of them match each term
        (one statement; each count uses the GIN index). Counts are kept for
        :data:`STATS_SECONDS` per store object: term weights change slowly, and no other
        process tells this one when it wrote."""
        cache = self._stats_cache
        stamp = now.timestamp()
        if len(cache) > 10_000:
            cache.clear()
        wanted = ["", *dict.fromkeys(terms)]  # "" is the namespace's count
        missing = [t for t in wanted if cache.get((prefix, t), (0.0, 0))[0] <= stamp]
        if missing:
            params: dict[str, Any] = {**under_params(prefix), "now": now}
            params["cfg"] = self.text_search_config
            base = f"FROM retain_items i WHERE {under_sql('i.prefix')} AND {self._LIVE}"
            parts = []
            for n, term in enumerate(missing):
                params[f"t{n}"] = term
                match = f" AND i.body @@ plainto_tsquery(%(cfg)s::regconfig, %(t{n})s)"
                parts.append(f"(SELECT count(*) {base}{match if term else ''})")
            rows = yield Sql("SELECT " + ", ".join(parts), params)
            for term, count in zip(missing, rows[0], strict=True):
                cache[(prefix, term)] = (stamp + STATS_SECONDS, int(count))
        return cache[(prefix, "")][1], {t: cache[(prefix, t)][1] for t in terms}

    def _neighbours(
        self, ids: Sequence[int], window: int, flt: dict[str, Any] | None, now: datetime
    ) -> Steps[dict[int, tuple[tuple[int, int], ...]]]:
        """For each id, the ``window`` live, indexed items written right before it and the
        ``window`` right after it in its namespace (passing the filter), with distances."""
        params: dict[str, Any] = {"ids": list(ids), "now": now, "w": window}
        where = filter_sql(flt, "n.value", params)
        side = (
            "ARRAY(SELECT n.id FROM retain_items n WHERE n.prefix = i.prefix AND n.id {op} "
            "i.id AND n.body IS NOT NULL AND (n.expires_at IS NULL OR n.expires_at > %(now)s) "
            f"AND {where} ORDER BY n.id {{order}} LIMIT %(w)s)"
        )
        rows = yield Sql(
            f"SELECT i.id, {side.format(op='<', order='DESC')}, "
            f"{side.format(op='>', order='ASC')} FROM retain_items i WHERE i.id = ANY(%(ids)s)",
            params,
        )
        return {
            int(r[0]): tuple(
                (int(n), d) for near in (r[1], r[2]) for d, n in enumerate(near, start=1)
            )
            for r in rows
        }

    def _search(
        self, op: SearchOp, q: Any, now: datetime
    ) -> Steps[tuple[list[SearchItem], list[int]]]:
        prefix = ns_text(op.namespace_prefix)
        refresh = op.refresh_ttl
        if not op.query:
            listed = yield from self._listed(prefix, op.filter, op.limit, op.offset, now)
            items = [self._item(r, None, search=True) for r in listed]
            return items, _refreshable(listed, refresh)
        # LangGraph's search returns every item, superseded facts included
        items, rows = yield from self._ranked(search_args(op), q, now)
        if len(items) < op.limit:  # items without vectors come last, unscored
            rest = yield from self._listed(
                prefix,
                op.filter,
                op.limit - len(items),
                0,
                now,
                "NOT EXISTS (SELECT 1 FROM retain_vectors x WHERE x.item_id = i.id)",
            )
            seen = {(tuple(i.namespace), i.key) for i in items}
            items += [
                self._item(r, None, search=True) for r in rest if (ns_tuple(r[0]), r[1]) not in seen
            ]
        return items, _refreshable(rows, refresh)

    def _list_namespaces(self, op: ListNamespacesOp, now: datetime) -> Steps[list[tuple[str, ...]]]:
        rows = yield Sql(
            f"SELECT DISTINCT i.prefix FROM retain_items i WHERE {self._LIVE}", {"now": now}
        )
        return namespace_page((r[0] for r in rows), op)

    def _summary_rows(self, prefix: tuple[str, ...], now: datetime) -> Steps[NamespaceCounts]:
        """The live items under ``prefix`` counted per namespace, with the newest write."""
        rows = yield Sql(
            "SELECT i.prefix, count(*), max(i.updated_at) FROM retain_items i WHERE "
            f"{under_sql('i.prefix')} AND {self._LIVE} GROUP BY i.prefix",
            {**under_params(ns_text(prefix)), "now": now},
        )
        return [(p, int(n), last) for p, n, last in rows]

    def _recall_rows(self, args: RecallArgs, q: Any) -> Steps[list[SearchItem]]:
        """A checked recall's page (``q``: the query's vector, if it is ranked by one)."""
        now = self._now()
        prefix, filter, limit, offset = ns_text(args.prefix), args.filter, args.limit, args.offset
        if not args.query:  # the facts that hold, listed a chunk at a time
            kept = yield from current_page(
                lambda n, start: self._listed(prefix, filter, n, start, now),
                lambda r: holds(
                    r[2], now=now, as_of=args.as_of, include_superseded=args.include_superseded
                ),
                limit,
                offset,
            )
            return [self._item(r, None, search=True) for r in kept]
        items, _ = yield from self._ranked(args, q, now)
        return items

    def _ranked(
        self, args: RecallArgs, q: Any, now: datetime
    ) -> Steps[tuple[list[SearchItem], list[tuple[Any, ...]]]]:
        """Drive :func:`retain.core.ranking.recall_flow` with SQL steps (``q``: the query's
        vector, if it is ranked by one); returns the page and its rows."""
        prefix, filter = ns_text(args.prefix), args.filter
        rows: dict[int, tuple[Any, ...]] = {}
        known: dict[int, tuple[Any, ...]] = {}
        flow = args.ranking(vectors=q is not None, now=now.timestamp(), memo=self._ranking_memo())

        def answer(request: RecallRequest) -> Steps[Any]:
            if isinstance(request, FindVector):
                ranked, seen = yield from self._vector_ranking(prefix, q, filter, request.k, now)
                known.update(seen)
                return ranked
            if isinstance(request, FindKeyword):
                return (yield from self._keyword_ranking(prefix, request, filter, now))
            if isinstance(request, KeywordStats):
                return (yield from self._keyword_stats(prefix, request.terms, now))
            if isinstance(request, Load):
                wanted = [i for i in request.ids if i not in known]
                found = {i: known[i] for i in request.ids if i in known}
                found |= yield from self._by_ids(wanted, now, prefix, filter)
                rows.update(found)
                return {i: self._ranking_row(r) for i, r in found.items()}
            return (yield from self._neighbours(request.ids, request.window, filter, now))

        scored = yield from drive(flow, answer)
        page = [s for s in scored if s.id in rows][args.offset : args.offset + args.limit]
        return [self._item(rows[s.id], s, search=True) for s in page], [rows[s.id] for s in page]

    def _vector(self, values: Any, what: str) -> Any:
        """The model's ``values`` as a float32 vector, or :class:`EmbeddingDimensionError`
        when its size is not the index's (``what``: the vector, in the message)."""
        vec = np.asarray(values, dtype=np.float32)
        if vec.shape != (self._dims,):
            raise EmbeddingDimensionError(
                f"The embedding model returned {what} of {vec.size} dims; the index says "
                f"{self._dims}. Fix 'dims' in the index or the model."
            )
        return vec

    def _now(self) -> datetime:
        """The store clock's time (:class:`retain.clock.Clock`), as an aware datetime."""
        return datetime.fromtimestamp(self._clock.now(), timezone.utc)

    def _ranking_memo(self) -> dict[tuple[int, float], Doc]:
        if len(self._docs) > 50_000:  # bounded: about 20 MB of split texts
            self._docs.clear()
        return self._docs

    def _ranking_row(self, row: Sequence[Any]) -> tuple[str, float, dict[str, Any]]:
        value = row[2]
        text = " ".join(t for _, t in index_texts(value, self._fields, None))
        return text, row[4].timestamp(), value
