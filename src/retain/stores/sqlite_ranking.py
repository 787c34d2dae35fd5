"""The ranking side of :class:`retain.stores.SQLiteStore`: the SQL answers to
:func:`retain.core.ranking.recall_flow`'s keyword, count and neighbour requests, the rows
decoded for ranking (memoised), and the in-memory state ranking reads (vectors, keyword
counts) kept in step with other connections' writes through the change log
(``retain_vector_log``). The store drives the flow (``SQLiteStore._ranked``); PostgreSQL's
counterpart is :mod:`retain.stores.pg_reads`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from retain.clock import Clock
from retain.core.ranking import Doc, FindKeyword
from retain.stores.base import index_texts, ns_tuple
from retain.stores.sqlite_sql import fts_match, under_args, under_sql
from retain.stores.sqlite_vectors import Vector, VectorCache

_VECTOR_ROWS = (
    "SELECT v.item_id, i.prefix, v.embedding FROM retain_vectors v "
    "JOIN retain_items i ON i.id = v.item_id"
)


class SQLiteRanking:
    """Mixin of the ranking queries; the store provides the attributes below."""

    _conn: sqlite3.Connection
    _clock: Clock
    _fields: Any
    _docs: dict[tuple[int, float], Doc]  # rows split for ranking
    # rows decoded for ranking, by (id, updated_at): a namespace's rows are read again by
    # every recall in it, and decoding their JSON was a fifth of a recall's time
    _decoded: dict[tuple[int, float], tuple[str, float, dict[str, Any]]]
    # keyword counts by prefix: items ("") and items matching each term
    _stats: dict[tuple[str, ...], dict[str, int]]
    _cache: VectorCache  # the file's vectors, when loaded
    _vectors_loaded: bool  # False: load them on the next vector search
    _cache_loads: int  # full loads (tests: other connections' writes refresh)
    _seen_version: int | None  # PRAGMA data_version when last caught up
    _seen_seq: int | None  # the last retain_vector_log entry caught up with

    def _keyword_ranking(
        self, prefix: tuple[str, ...], find: FindKeyword, allowed: set[int] | None
    ) -> list[tuple[int, float]]:
        """:class:`retain.core.ranking.FindKeyword`: the items matching any of the terms
        whose matched terms weigh most, heaviest first (ties: newest first)."""
        matches = [
            (fts_match([t], prefix), w) for t, w in zip(find.terms, find.weights, strict=True)
        ]
        found = [(m, w) for m, w in matches if m is not None]
        if not found:
            return []
        each = "SELECT rowid AS id, ? AS w FROM retain_items_fts WHERE retain_items_fts MATCH ?"
        rows = self._conn.execute(
            f"SELECT s.id, sum(s.w) AS r FROM ({' UNION ALL '.join([each] * len(found))}) s "
            f"JOIN retain_items i ON i.id = s.id WHERE {under_sql('i.prefix')} AND "
            "(i.expires_at IS NULL OR i.expires_at > ?) GROUP BY s.id ORDER BY r DESC, s.id DESC "
            "LIMIT ?",
            (
                *(x for m, w in found for x in (w, m)),
                *under_args(prefix),
                self._clock.now(),
                find.k if allowed is None else -1,
            ),
        ).fetchall()
        ranked = [(r[0], float(r[1])) for r in rows if allowed is None or r[0] in allowed]
        return ranked[: find.k]

    def _ranking_memo(self) -> dict[tuple[int, float], Doc]:
        if len(self._docs) > 50_000:  # bounded: about 20 MB of split texts
            self._docs.clear()
        return self._docs

    def _ranking_row(self, row: Sequence[Any]) -> tuple[str, float, dict[str, Any]]:
        """``(text, updated_at, value)`` of a row for the ranking (read-only: memoised)."""
        memo_key = (int(row[5]), float(row[4]))
        found = self._decoded.get(memo_key)
        if found is not None:
            return found
        value = json.loads(row[2])
        texts = [t for _, t in index_texts(value, self._fields, None)]
        if len(self._decoded) > 20_000:  # bounded like the split texts
            self._decoded.clear()
        found = self._decoded[memo_key] = (" ".join(texts), float(row[4]), value)
        return found

    def _keyword_stats(
        self, prefix: tuple[str, ...], terms: Sequence[str]
    ) -> tuple[int, dict[str, int]]:
        """How many live items lie under ``prefix``, and how many of them match each term;
        cached until a write under ``prefix`` by this connection (:meth:`_forget_stats`)
        or by another (:meth:`_catch_up`)."""
        self._catch_up()
        now = self._clock.now()
        live = "(i.expires_at IS NULL OR i.expires_at > ?)"
        known = self._stats.get(prefix)
        if known is None or len(known) > 1_000:
            if len(self._stats) > 1_000:  # bounded: a million counts at most
                self._stats.clear()
            known = self._stats[prefix] = {}
        if "" not in known:
            known[""] = int(
                self._conn.execute(
                    f"SELECT count(*) FROM retain_items i WHERE {under_sql('i.prefix')} AND {live}",
                    (*under_args(prefix), now),
                ).fetchone()[0]
            )
        counts: dict[str, int] = {}
        for term in terms:
            if term not in known:
                match = fts_match([term], prefix)
                known[term] = int(
                    self._conn.execute(
                        "SELECT count(*) FROM retain_items_fts f JOIN retain_items i ON i.id = "
                        "f.rowid WHERE "
                        f"retain_items_fts MATCH ? AND {under_sql('i.prefix')} AND {live}",
                        (match, *under_args(prefix), now),
                    ).fetchone()[0]
                )
            counts[term] = known[term]
        return known[""], counts

    def _catch_up(self, *, vectors: bool = False) -> None:
        """Bring what this connection keeps in memory in step with other connections'
        commits (SQLite's ``data_version`` moved), reading the change log once: the keyword
        counts of the namespaces they wrote are dropped (a purge, which logs no namespace
        name, drops all) and the vectors of the items they changed are read again. A
        connection further behind than the log reaches drops every count and reloads every
        vector. ``vectors``: load the vector cache if it is not loaded."""
        conn = self._conn
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        load = vectors and not self._vectors_loaded
        if version == self._seen_version and not load:
            return
        snapshot = not conn.in_transaction
        if snapshot:
            conn.execute("BEGIN")  # one snapshot: the log, the counts and the vectors agree
        try:
            seen = self._seen_seq
            oldest, end = conn.execute(
                "SELECT min(seq), coalesce(max(seq), 0) FROM retain_vector_log"
            ).fetchone()
            behind = seen is None or end < seen or (oldest is not None and oldest > seen + 1)
            changes = (
                []
                if behind
                else conn.execute(
                    "SELECT item_id, prefix FROM retain_vector_log WHERE seq > ? AND seq <= ?",
                    (seen, end),
                ).fetchall()
            )
            prefixes = {r[1] for r in changes if r[1] is not None}
            if behind or "" in prefixes:
                self._stats.clear()
            else:
                self._forget_stats([ns_tuple(p) for p in prefixes])
            if self._vectors_loaded or load:
                ids = sorted({int(r[0]) for r in changes})
                many = len(ids) > max(1_000, len(self._cache) // 2)  # reading all is cheaper
                if load or behind or many:
                    self._cache.load(conn.execute(f"{_VECTOR_ROWS} ORDER BY v.item_id, v.field"))
                    self._cache_loads += 1
                    self._vectors_loaded = True
                elif ids:
                    self._refresh_vectors(ids)
            self._seen_seq, self._seen_version = int(end), version
        finally:
            if snapshot:
                conn.execute("COMMIT")

    def _refresh_vectors(self, ids: list[int]) -> None:
        """Read the vectors of ``ids`` into the cache again (none left: forget them)."""
        found: dict[int, tuple[str, list[Vector]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._conn.execute(
                f"{_VECTOR_ROWS} WHERE v.item_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY v.item_id, v.field",
                chunk,
            )
            for item_id, prefix, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                found.setdefault(int(item_id), (prefix, []))[1].append(vec)
        for item_id in ids:
            if item_id in found:
                self._cache.put(found[item_id][0], item_id, found[item_id][1])
            else:
                self._cache.remove(item_id)

    def _forget_stats(self, namespaces: Iterable[tuple[str, ...]]) -> None:
        """Drop the keyword counts of the prefixes over the namespaces just written (a write
        in one user's namespace leaves every other user's counts valid)."""
        for prefix in [p for p in self._stats if any(ns[: len(p)] == p for ns in namespaces)]:
            del self._stats[prefix]

    def _neighbours(
        self, ids: Sequence[int], window: int, allowed: set[int] | None
    ) -> dict[int, tuple[tuple[int, int], ...]]:
        """For each id, the ``window`` live, indexed items written right before it and the
        ``window`` right after it in its namespace, with their distance."""
        side = (
            "(SELECT json_group_array(x.id) FROM (SELECT n.id FROM retain_items AS n "
            "WHERE n.prefix = i.prefix AND n.id {op} i.id AND (n.expires_at IS NULL OR "
            "n.expires_at > ?2) AND EXISTS (SELECT 1 FROM retain_items_fts f WHERE f.rowid = n.id) "
            "ORDER BY n.id {order} LIMIT ?3) AS x)"
        )
        rows = self._conn.execute(
            f"SELECT c.value, {side.format(op='<', order='DESC')}, "
            f"{side.format(op='>', order='ASC')} FROM json_each(?1) AS c JOIN retain_items AS i ON "
            "i.id = c.value",
            (json.dumps(list(ids)), self._clock.now(), window),
        ).fetchall()
        out: dict[int, tuple[tuple[int, int], ...]] = {}
        for item_id, before, after in rows:
            near = [
                (int(n), d)
                for side_ids in (json.loads(before), json.loads(after))
                for d, n in enumerate(side_ids, start=1)
            ]
            out[int(item_id)] = tuple((n, d) for n, d in near if allowed is None or n in allowed)
        return out
