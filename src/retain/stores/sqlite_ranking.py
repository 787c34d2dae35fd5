"""The ranking side of :class:`retain.stores.SQLiteStore`: the SQL answers to
:func:`retain.core.ranking.recall_flow`'s keyword, count and neighbour requests, and the
rows decoded for ranking (memoised). The store drives the flow (``SQLiteStore._ranked``);
PostgreSQL's counterpart is :mod:`retain.stores.pg_reads`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from retain.clock import Clock
from retain.core.ranking import Doc
from retain.stores.base import index_texts, ns_tuple
from retain.stores.sqlite_sql import fts_match, under_args, under_sql


class SQLiteRanking:
    """Mixin of the ranking queries; the store provides the attributes below."""

    _conn: sqlite3.Connection
    _clock: Clock
    _fields: Any
    _simple_fields: list[str]
    _docs: dict[tuple[int, float], Doc]  # rows split for ranking
    # rows decoded for ranking, by (id, updated_at): a namespace's rows are read again by
    # every recall in it, and decoding their JSON was a fifth of a recall's time
    _decoded: dict[tuple[int, float], tuple[str, float, dict[str, Any]]]
    # keyword counts by prefix: items ("") and items matching each term
    _stats: dict[tuple[str, ...], dict[str, int]]
    _stats_version: int | None  # PRAGMA data_version when counted
    _stats_seq: int | None  # the last retain_vector_log entry the counts have seen

    def _keyword_ranking(
        self, prefix: tuple[str, ...], terms: Sequence[str], allowed: set[int] | None, limit: int
    ) -> list[tuple[int, float]]:
        """``(item id, BM25 relevance)`` of the items matching any of ``terms``, best first."""
        match = fts_match(terms, prefix)
        if match is None:
            return []
        rows = self._conn.execute(
            "SELECT f.rowid, -bm25(retain_items_fts, 1.0, 0.0) AS r FROM retain_items_fts f JOIN "
            "retain_items i ON i.id = "
            f"f.rowid WHERE retain_items_fts MATCH ? AND {under_sql('i.prefix')} AND "
            "(i.expires_at IS NULL OR i.expires_at > ?) ORDER BY r DESC LIMIT ?",
            (match, *under_args(prefix), self._clock.now(), limit if allowed is None else -1),
        ).fetchall()
        ranked = [(r[0], float(r[1])) for r in rows if allowed is None or r[0] in allowed]
        return ranked[:limit]

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
        texts = [value.get(f) for f in self._simple_fields]
        if not (texts and all(isinstance(t, str) for t in texts)):
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
        or by another (:meth:`_catch_up_stats`, when SQLite's ``data_version`` moved)."""
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if self._stats_version != version:
            self._catch_up_stats()
            self._stats_version = version
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

    def _catch_up_stats(self) -> None:
        """Another connection has committed: drop the counts of the namespaces it wrote
        (logged with each item change, migration 8), or all of them when the log no longer
        reaches back that far."""
        conn = self._conn
        seen = self._stats_seq
        end = int(conn.execute("SELECT coalesce(max(seq), 0) FROM retain_vector_log").fetchone()[0])
        if seen is None or end < seen:
            self._stats.clear()
        elif end > seen:
            oldest = conn.execute("SELECT min(seq) FROM retain_vector_log").fetchone()[0]
            if oldest is None or oldest > seen + 1:
                self._stats.clear()
            else:
                rows = conn.execute(
                    "SELECT DISTINCT prefix FROM retain_vector_log WHERE seq > ? AND seq <= ? "
                    "AND prefix IS NOT NULL",
                    (seen, end),
                ).fetchall()
                if any(r[0] == "" for r in rows):  # a purge: its namespaces are not logged
                    self._stats.clear()
                else:
                    self._forget_stats([ns_tuple(r[0]) for r in rows])
        self._stats_seq = end

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
