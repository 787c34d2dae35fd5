"""``SQLiteStore``: retain's embedded store, one SQLite file, no server.

* Works on Python builds without SQLite extension loading: vectors are float32 BLOBs
  searched exactly with numpy; keywords use SQLite's built-in FTS5.
* WAL journal, a busy timeout and ``BEGIN IMMEDIATE`` write transactions retried with
  backoff while another process holds the lock: a batch is atomic (all of it or none of
  it) and several processes can share one file (:mod:`retain.stores.sqlite_conn`).
* Vectors are also held in memory (:class:`~retain.stores.sqlite_vectors.VectorCache`),
  kept in step with this store's writes and, through the change log, with other
  connections' (:meth:`~retain.stores.sqlite_ranking.SQLiteRanking._catch_up`).
* Recall drives :func:`retain.core.ranking.recall_flow`; its keyword, count and neighbour
  queries are in :mod:`retain.stores.sqlite_ranking`.
* Input is checked before anything is written (:mod:`retain.stores.validation`).
* Every put and delete appends a version to the history, with the provenance in effect
  (:func:`retain.stores.provenance`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langgraph.store.base import (
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from retain.clock import Clock, as_clock
from retain.core.ranking import (
    FindKeyword,
    FindVector,
    KeywordStats,
    Load,
    RecallRequest,
    Scored,
    answered,
)
from retain.core.temporal import holds
from retain.errors import ConfigurationError, EmbeddingDimensionError, InvalidInputError
from retain.stores.base import (
    NamespaceCounts,
    RankedItem,
    RecallArgs,
    RetainStore,
    Version,
    current_page,
    current_provenance,
    export_records,
    index_texts,
    matches_filter,
    namespace_page,
    ns_text,
    ns_tuple,
    parse_index,
    search_args,
    value_strings,
)
from retain.stores.hooks import purge_jobs, run_write_hooks, write_replayed
from retain.stores.sqlite_conn import connect, store_errors, write_transaction
from retain.stores.sqlite_ranking import SQLiteRanking
from retain.stores.sqlite_sql import (
    equality_filter_sql,
    ns_terms,
    under_args,
    under_sql,
    utc,
)
from retain.stores.sqlite_vectors import Vector, VectorCache
from retain.stores.validation import (
    CheckedCalls,
    check_count,
    check_key,
    check_namespace,
    check_op,
    check_ttl_config,
)
from retain.twins import call, run

__all__ = ["SQLiteStore"]


VECTOR_LOG_KEEP = 100_000
"""How many changes the log keeps for other connections' caches (older entries are pruned
as writes add new ones; a connection further behind reloads every vector and count)."""


@dataclass
class _Put:
    """One put (``value`` is its JSON) or delete (``value is None``) of a batch."""

    op: PutOp
    prefix: str
    value: str | None
    texts: list[tuple[str, str]]
    vectors: list[tuple[str, Vector]] = field(default_factory=list)


class SQLiteStore(CheckedCalls, SQLiteRanking, RetainStore):
    """A LangGraph ``BaseStore`` in one SQLite file, with retain's extensions.

    Args:
        path: The database file (created with its folder), or ``":memory:"``.
        index: LangGraph's index config ``{"embed": ..., "dims": ..., "fields": [...]}``;
            ``embed`` takes a function, a LangChain ``Embeddings`` or a ``"provider:model"``
            string. Left out (``None``), the store embeds with the offline MiniLM model
            (``"local:minilm"``, 384 dims), so search ranks by meaning and keywords;
            ``index=False`` opts out (keywords only, no model loaded).
        ttl: LangGraph's TTL config (``default_ttl`` minutes, ``refresh_on_read``).
        busy_timeout_ms: How long SQLite waits for another connection's write lock.
        lock_retries: How many times a write transaction is retried (with backoff) after
            the busy timeout ran out, before :class:`~retain.errors.StoreLockedError`.
        clock: What the store reads the time from (TTLs, timestamps, history):
            :class:`retain.clock.SystemClock` by default; tests pass a
            :class:`retain.clock.ManualClock`.

    Raises:
        StoreCorruptedError: ``path`` is not a SQLite database (the file is left as is).
        StoreLockedError: another connection kept the file locked while it was migrated.

    Example:
        >>> from retain.stores import SQLiteStore
        >>> store = SQLiteStore(":memory:")
        >>> store.put(("memories", "alice"), "k1", {"content": "Alice prefers dark mode"})
        >>> [i.key for i in store.recall(("memories",), query="dark mode", mode="keyword")]
        ['k1']
    """

    def __init__(
        self,
        path: str | Path = ".retain/memories.db",
        *,
        index: IndexConfig | dict[str, Any] | Literal[False] | None = None,
        ttl: TTLConfig | None = None,
        busy_timeout_ms: int = 30_000,
        lock_retries: int = 3,
        clock: Clock | Callable[[], float] | None = None,
    ) -> None:
        if busy_timeout_ms < 0 or lock_retries < 0:
            raise ConfigurationError("busy_timeout_ms and lock_retries must be >= 0.")
        self._clock = as_clock(clock)
        self.path = str(path)
        self._lock = threading.RLock()
        self._busy_timeout_ms = busy_timeout_ms
        self._lock_retries = lock_retries
        self._conn = connect(self.path, busy_timeout_ms=busy_timeout_ms, lock_retries=lock_retries)
        self.ttl_config = check_ttl_config(ttl)
        self.index_config, self.embeddings, self.embedding_id, self._fields = parse_index(index)
        self._dims = int(self.index_config["dims"]) if self.index_config else 0
        self._cache = VectorCache(self._dims)
        self._vectors_loaded = False
        self._cache_loads = 0
        self._seen_version = None
        self._seen_seq = None
        self._docs = {}
        self._decoded = {}
        self._stats = {}
        with store_errors(self.path):
            self._check_embedding_model()

    def _transaction(self, body: Any) -> Any:
        return write_transaction(
            self._conn,
            body,
            path=self.path,
            busy_timeout_ms=self._busy_timeout_ms,
            lock_retries=self._lock_retries,
        )

    # -- setup -----------------------------------------------------------------------------

    def _meta(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM retain_meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _check_embedding_model(self) -> None:
        self._stale: str | None = None
        if self.index_config is None:
            return
        recorded = self._meta("embedding_id")
        dims = self._meta("embedding_dims")
        has_vectors = (
            self._conn.execute("SELECT 1 FROM retain_vectors LIMIT 1").fetchone() is not None
        )
        current = (self.embedding_id, str(self.index_config["dims"]))
        if has_vectors and recorded is not None and (recorded, dims) != current:
            self._stale = (
                f"The vectors in {self.path} were made with {recorded} ({dims} dims), but the "
                f"store was opened with {current[0]} ({current[1]} dims). Call "
                "store.reembed() to recompute them with the new model (or open the store "
                "with the old one)."
            )
        elif not has_vectors and (recorded, dims) != current:
            self._set_meta()

    def _set_meta(self) -> None:
        assert self.index_config is not None
        with self._lock:
            self._conn.executemany(
                "INSERT INTO retain_meta(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                [
                    ("embedding_id", str(self.embedding_id)),
                    ("embedding_dims", str(self.index_config["dims"])),
                ],
            )

    def _require_fresh_vectors(self) -> None:
        if self._stale:
            raise ConfigurationError(self._stale)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()
            self._cache = VectorCache(self._dims)
            self._vectors_loaded = False

    # -- input -------------------------------------------------------------------------------

    def _check_ops(self, ops: list[Op]) -> list[_Put]:
        """The puts of a batch (the last one per item wins), after checking every
        operation (:func:`~retain.stores.validation.check_op`); raises retain's typed
        errors before anything is written."""
        puts: dict[tuple[tuple[str, ...], str], _Put] = {}
        for op in ops:
            encoded = check_op(op)
            if isinstance(op, PutOp):
                ns = tuple(op.namespace)
                texts = self._texts(op) if encoded is not None else []
                puts[(ns, op.key)] = _Put(op, ns_text(ns), encoded, texts)
        return list(puts.values())

    # -- batch -------------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        puts = self._check_ops(ops)
        self._embed_puts(puts)
        with self._lock, store_errors(self.path):
            for i, op in enumerate(ops):
                if isinstance(op, GetOp):
                    results[i] = self._get(op)
                elif isinstance(op, SearchOp):
                    results[i] = self._search(op)
                elif isinstance(op, ListNamespacesOp):
                    results[i] = self._list_namespaces(op)
            if puts:
                self._write(puts)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self._in_thread(self.batch, list(ops))  # type: ignore[no-any-return]

    # -- writes ------------------------------------------------------------------------------

    def _texts(self, op: PutOp) -> list[tuple[str, str]]:
        """``(field path, text)`` pairs to index for a put."""
        return index_texts(op.value, self._fields, op.index)

    def _embed_puts(self, puts: list[_Put]) -> None:
        """Set each put's ``(field path, normalised vector)`` pairs, before any write."""
        if self.embeddings is None:
            return
        flat = [text for put in puts for _, text in put.texts]
        if not flat:
            return
        self._require_fresh_vectors()
        vecs = self._embedding_matrix(self.embeddings.embed_documents(flat), len(flat))
        i = 0
        for put in puts:
            put.vectors = [(path, vecs[i + j]) for j, (path, _) in enumerate(put.texts)]
            i += len(put.texts)

    def _embedding_matrix(self, vectors: Any, count: int) -> Vector:
        """The model's vectors as a normalised float32 matrix, or
        :class:`EmbeddingDimensionError` when their number or size is wrong."""
        try:
            matrix = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as e:  # ragged: vectors of different sizes
            raise EmbeddingDimensionError(
                f"The embedding model returned vectors of different sizes; the index says "
                f"{self._dims} dims. Nothing was written."
            ) from e
        if matrix.ndim != 2 or matrix.shape != (count, self._dims):
            got = "x".join(str(d) for d in matrix.shape)
            raise EmbeddingDimensionError(
                f"The embedding model returned an array of shape {got} for {count} texts; "
                f"the index says {self._dims} dims, so {count}x{self._dims} was expected. Fix "
                "the index's 'dims' or the model; nothing was written."
            )
        if not np.isfinite(matrix).all():
            raise EmbeddingDimensionError(
                "The embedding model returned NaN or infinite numbers; nothing was written."
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: Vector = matrix / norms
        return normalised

    def _write(self, puts: list[_Put]) -> None:
        """Apply the puts and deletes of one batch in one transaction, with bulk statements."""
        if write_replayed(self, {p.prefix for p in puts}):  # an earlier attempt wrote it
            return
        now = self._clock.now()
        prov = json.dumps(current_provenance(), default=str)
        conn = self._conn

        def body() -> list[tuple[str, int, list[Vector]]]:
            pairs = json.dumps([[put.prefix, put.op.key] for put in puts])
            existing = {
                (r[0], r[1]): r[2]
                for r in conn.execute(
                    "SELECT i.prefix, i.key, i.id FROM json_each(?) j JOIN retain_items i ON "
                    "i.prefix "
                    "= json_extract(j.value, '$[0]') AND i.key = json_extract(j.value, '$[1]')",
                    (pairs,),
                )
            }
            next_id = int(
                conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM retain_items").fetchone()[0]
            )
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            deletes: list[tuple[int]] = []
            replaced: list[tuple[int]] = []
            keywords: list[tuple[int, str, str]] = []
            vector_rows: list[tuple[int, str, bytes]] = []
            versions: list[tuple[str, str, str, str | None]] = []
            changed: list[tuple[str, int, list[Vector]]] = []  # for the vector cache
            for put in puts:
                op = put.op
                item_id = existing.get((put.prefix, op.key))
                if put.value is None:
                    if item_id is not None:
                        deletes.append((item_id,))
                        versions.append((put.prefix, op.key, "delete", None))
                        changed.append((put.prefix, item_id, []))
                    continue
                expires = None if op.ttl is None else now + op.ttl * 60
                if item_id is None:
                    item_id, next_id = next_id, next_id + 1
                    inserts.append(
                        (item_id, put.prefix, op.key, put.value, now, now, expires, op.ttl)
                    )
                else:
                    replaced.append((item_id,))
                    updates.append((put.value, now, expires, op.ttl, item_id))
                text = (
                    " ".join(t for _, t in put.texts)
                    if self.index_config
                    else " ".join(value_strings(op.value))
                    if op.index is not False
                    else ""
                )
                if text:
                    keywords.append((item_id, text, ns_terms(put.prefix)))
                vector_rows += [(item_id, path, vec.tobytes()) for path, vec in put.vectors]
                changed.append((put.prefix, item_id, [vec for _, vec in put.vectors]))
                versions.append((put.prefix, op.key, "put", put.value))
            gone = deletes + replaced
            conn.executemany("DELETE FROM retain_items_fts WHERE rowid = ?", gone)
            conn.executemany("DELETE FROM retain_vectors WHERE item_id = ?", replaced)
            conn.executemany("DELETE FROM retain_items WHERE id = ?", deletes)  # vectors cascade
            conn.executemany(
                "UPDATE retain_items SET value = ?, updated_at = ?, expires_at = ?, ttl_minutes = "
                "? "
                "WHERE id = ?",
                updates,
            )
            conn.executemany(
                "INSERT INTO retain_items(id, prefix, key, value, created_at, updated_at, "
                "expires_at, "
                "ttl_minutes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
            conn.executemany(
                "INSERT INTO retain_items_fts(rowid, body, ns) VALUES (?, ?, ?)", keywords
            )
            conn.executemany(
                "INSERT INTO retain_vectors(item_id, field, embedding) VALUES (?, ?, ?)",
                vector_rows,
            )
            conn.executemany(
                "INSERT INTO retain_history(prefix, key, version, op, value, at, provenance) "
                "VALUES "
                "(?1, ?2, COALESCE((SELECT MAX(version) FROM retain_history WHERE prefix = ?1 AND "
                "key = ?2), 0) + 1, ?3, ?4, ?5, ?6)",
                [(*v, now, prov) for v in versions],
            )
            if vector_rows and self._meta("embedding_id") is None:
                self._set_meta()
            conn.execute(  # every item change is logged (migration 8): keep the newest
                "DELETE FROM retain_vector_log WHERE seq <= "
                "(SELECT max(seq) FROM retain_vector_log) - ?",
                (VECTOR_LOG_KEEP,),
            )
            run_write_hooks(self, conn)
            return changed

        changed = self._transaction(body)
        self._forget_stats({tuple(p.op.namespace) for p in puts})
        if self._vectors_loaded:  # keep it in step (after the commit)
            for prefix, item_id, vecs in changed:
                self._cache.put(prefix, item_id, vecs)

    # -- reads -------------------------------------------------------------------------------

    def _item(
        self, row: Sequence[Any], score: float | Scored | None = None, search: bool = False
    ) -> Any:
        prefix, key, value, created, updated = row[:5]
        args = (ns_tuple(prefix), key, json.loads(value), utc(created), utc(updated))
        if isinstance(score, Scored):  # ranked: keep the parts of the score
            return RankedItem.scored(*args, score)
        if search:
            return SearchItem(*args, score=score)
        return Item(
            value=args[2], key=key, namespace=args[0], created_at=args[3], updated_at=args[4]
        )

    def _refresh(self, ids: list[int], refresh: bool) -> None:
        if not refresh or not ids:
            return
        marks = ",".join("?" * len(ids))
        with_ttl = [  # read first: a read of items without a TTL takes no write lock
            r[0]
            for r in self._conn.execute(
                f"SELECT id FROM retain_items WHERE ttl_minutes IS NOT NULL AND id IN ({marks})",
                ids,
            )
        ]
        if with_ttl:
            marks = ",".join("?" * len(with_ttl))
            self._conn.execute(
                f"UPDATE retain_items SET expires_at = ? + ttl_minutes * 60 WHERE id IN ({marks})",
                (self._clock.now(), *with_ttl),
            )

    def _get(self, op: GetOp) -> Item | None:
        row = self._conn.execute(
            "SELECT prefix, key, value, created_at, updated_at, id FROM retain_items WHERE prefix "
            "= ? "
            "AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (ns_text(op.namespace), op.key, self._clock.now()),
        ).fetchone()
        if row is None:
            return None
        self._refresh([row[5]], op.refresh_ttl)
        return self._item(row)  # type: ignore[no-any-return]

    def _rows(self, prefix: tuple[str, ...], ids: Sequence[int] | None = None) -> list[Any]:
        # With ids, look rows up by primary key: NOT INDEXED keeps the planner from walking
        # the whole namespace through the prefix index (30x slower at 10k rows).
        table = "retain_items NOT INDEXED" if ids is not None else "retain_items"
        sql = (
            f"SELECT prefix, key, value, created_at, updated_at, id FROM {table} WHERE "
            f"{under_sql()} AND (expires_at IS NULL OR expires_at > ?)"
        )
        args: list[Any] = [*under_args(prefix), self._clock.now()]
        if ids is not None:
            if not ids:
                return []
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            args += list(ids)
        return self._conn.execute(sql + " ORDER BY updated_at DESC", args).fetchall()

    def _filtered_ids(self, prefix: tuple[str, ...], filter: dict[str, Any]) -> set[int]:
        sql = equality_filter_sql(filter)
        if sql is not None:  # plain equality on top-level fields: SQLite decodes the JSON
            where, args = sql
            rows = self._conn.execute(
                f"SELECT id FROM retain_items WHERE {under_sql()} AND (expires_at IS NULL OR "
                f"expires_at > ?) AND {where}",
                (*under_args(prefix), self._clock.now(), *args),
            )
            return {r[0] for r in rows}
        return {r[5] for r in self._rows(prefix) if matches_filter(json.loads(r[2]), filter)}

    def _expired_ids(self) -> set[int]:
        """Items past their TTL and not yet swept (usually none; uses a partial index)."""
        rows = self._conn.execute(
            "SELECT id FROM retain_items WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (self._clock.now(),),
        ).fetchall()
        return {r[0] for r in rows}

    def _vector_ranking(
        self, prefix: tuple[str, ...], query: str, allowed: set[int] | None, limit: int
    ) -> list[tuple[int, float]]:
        assert self.embeddings is not None
        self._require_fresh_vectors()
        self._catch_up(vectors=True)
        cache = self._cache
        if not len(cache):
            return []
        q = self._embedding_matrix([self.embeddings.embed_query(query)], 1)[0]
        return cache.search(prefix, q, limit, allowed=allowed, excluded=self._expired_ids())

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)
        if op.query:
            # LangGraph's search returns every item, superseded facts included
            page = self._ranked(search_args(op))
            chosen = [row for row, _ in page]
            items = [self._item(row, score, search=True) for row, score in page]
            if len(items) < op.limit and self.embeddings is not None:
                # items without vectors come last, unscored (LangGraph's search does the same)
                seen = {row[5] for row in chosen}
                rest = [
                    r
                    for r in self._rows(prefix)
                    if r[5] not in self._cache
                    and r[5] not in seen
                    and (not op.filter or matches_filter(json.loads(r[2]), op.filter))
                ][: op.limit - len(items)]
                chosen += rest
                items += [self._item(r, None, search=True) for r in rest]
            self._refresh([r[5] for r in chosen], op.refresh_ttl)
            return items
        listed = self._rows(prefix)
        if op.filter:
            listed = [r for r in listed if matches_filter(json.loads(r[2]), op.filter)]
        chosen = listed[op.offset : op.offset + op.limit]
        self._refresh([r[5] for r in chosen], op.refresh_ttl)
        return [self._item(r, None, search=True) for r in chosen]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        rows = self._conn.execute(
            "SELECT DISTINCT prefix FROM retain_items WHERE expires_at IS NULL OR expires_at > ?",
            (self._clock.now(),),
        ).fetchall()
        return namespace_page((r[0] for r in rows), op)

    def _namespace_counts(self, prefix: tuple[str, ...]) -> NamespaceCounts:
        with self._lock, store_errors(self.path):
            rows = self._conn.execute(
                "SELECT prefix, count(*), max(updated_at) FROM retain_items WHERE "
                f"{under_sql()} AND (expires_at IS NULL OR expires_at > ?) GROUP BY prefix",
                (*under_args(prefix), self._clock.now()),
            ).fetchall()
        return [(p, int(n), utc(last)) for p, n, last in rows]

    # -- retain's extensions ---------------------------------------------------------------------

    def _recall(self, args: RecallArgs) -> list[SearchItem]:
        a = args
        with self._lock, store_errors(self.path):
            if not a.query:
                now = datetime.fromtimestamp(self._clock.now(), timezone.utc)
                return run(
                    current_page(
                        lambda n, start: call(
                            self, "_search", SearchOp(a.prefix, a.filter, n, start, None, False)
                        ),
                        lambda item: holds(
                            item.value,
                            now=now,
                            as_of=a.as_of,
                            include_superseded=a.include_superseded,
                        ),
                        a.limit,
                        a.offset,
                    )
                )
            page = self._ranked(a)
            return [self._item(row, score, search=True) for row, score in page]

    def _ranked(self, args: RecallArgs) -> list[tuple[Any, Scored]]:
        """Drive :func:`retain.core.ranking.recall_flow` against this database: the page's
        rows with their scores (and the parts of each)."""
        prefix, query = args.prefix, args.query
        assert query is not None
        allowed = self._filtered_ids(prefix, args.filter) if args.filter else None
        rows: dict[int, Any] = {}
        flow = args.ranking(
            vectors=self.embeddings is not None, now=self._clock.now(), memo=self._ranking_memo()
        )

        def answer(request: RecallRequest) -> Any:
            if isinstance(request, FindVector):
                return self._vector_ranking(prefix, query, allowed, request.k)
            if isinstance(request, FindKeyword):
                return self._keyword_ranking(prefix, request, allowed)
            if isinstance(request, KeywordStats):
                return self._keyword_stats(prefix, request.terms)
            if isinstance(request, Load):
                found = {r[5]: r for r in self._rows(prefix, list(request.ids))}
                found = {i: r for i, r in found.items() if allowed is None or i in allowed}
                rows.update(found)
                return {i: self._ranking_row(r) for i, r in found.items()}
            return self._neighbours(request.ids, request.window, allowed)

        scored = answered(flow, answer)
        page = [s for s in scored if s.id in rows][args.offset : args.offset + args.limit]
        return [(rows[s.id], s) for s in page]

    def history(self, namespace: tuple[str, ...], key: str) -> list[Version]:
        check_namespace(namespace)
        check_key(key)
        with self._lock, store_errors(self.path):
            rows = self._conn.execute(
                "SELECT version, op, value, at, provenance FROM retain_history WHERE prefix = ? "
                "AND "
                "key = ? ORDER BY version",
                (ns_text(namespace), key),
            ).fetchall()
        return [
            Version(
                version=r[0],
                op=r[1],
                value=None if r[2] is None else json.loads(r[2]),
                at=utc(r[3]),
                provenance=json.loads(r[4] or "{}"),
            )
            for r in rows
        ]

    def purge(self, namespace_prefix: tuple[str, ...]) -> int:
        """Delete everything under the prefix: items, vectors, keyword index, history.

        The keyword index is then merged (FTS5 ``optimize``) so no trace of the deleted
        rows stays in its segments, and freed pages are zeroed (``secure_delete``).
        """
        if not namespace_prefix:
            raise InvalidInputError("purge needs a non-empty namespace prefix.")
        prefix = check_namespace(namespace_prefix, prefix=True)
        args = under_args(prefix)
        conn = self._conn

        def body() -> int:
            conn.execute(
                "DELETE FROM retain_items_fts WHERE rowid IN (SELECT id FROM retain_items WHERE "
                f"{under_sql()})",
                args,
            )
            count = conn.execute(f"DELETE FROM retain_items WHERE {under_sql()}", args).rowcount
            conn.execute(f"DELETE FROM retain_history WHERE {under_sql()}", args)
            # the item log names no purged namespace; '' tells other connections to drop
            # every keyword count (they cannot know which namespaces went)
            conn.execute(f"DELETE FROM retain_vector_log WHERE {under_sql()}", args)
            conn.execute("INSERT INTO retain_vector_log(item_id, prefix) VALUES (0, '')")
            purge_jobs(conn, namespace_prefix)  # queued conversations of the purged users
            conn.execute("INSERT INTO retain_items_fts(retain_items_fts) VALUES ('optimize')")
            return int(count)

        with self._lock, store_errors(self.path):
            conn.execute("PRAGMA secure_delete=ON")
            try:
                count = self._transaction(body)
                self._stats.clear()
            finally:
                conn.execute("PRAGMA secure_delete=OFF")
            self._cache.drop_under(prefix)
            if self.path != ":memory:":
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old pages out of the WAL
        return int(count)

    def export(self, namespace_prefix: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        args = under_args(check_namespace(namespace_prefix, prefix=True))
        with self._lock, store_errors(self.path):
            items = self._conn.execute(
                "SELECT prefix, key, value, created_at, updated_at FROM retain_items WHERE "
                f"{under_sql()} ORDER BY prefix, key",
                args,
            ).fetchall()
            versions = self._conn.execute(
                "SELECT prefix, key, version, op, value, at, provenance FROM retain_history WHERE "
                f"{under_sql()} ORDER BY prefix, key, version",
                args,
            ).fetchall()
        yield from export_records(
            ((ns_tuple(p), k, json.loads(v), utc(c), utc(u)) for p, k, v, c, u in items),
            (
                (
                    ns_tuple(p),
                    k,
                    n,
                    op,
                    None if v is None else json.loads(v),
                    utc(at),
                    json.loads(pv),
                )
                for p, k, n, op, v, at, pv in versions
            ),
        )

    def reembed(self, *, batch_size: int = 64) -> int:
        if self.embeddings is None or self.index_config is None:
            raise ConfigurationError("This store has no index (embedding model) to re-embed with.")
        check_count("batch_size", batch_size, 1)
        with self._lock, store_errors(self.path):
            rows = self._conn.execute("SELECT id, prefix, key, value FROM retain_items").fetchall()
        count = 0
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            ops = [PutOp(ns_tuple(r[1]), r[2], json.loads(r[3])) for r in chunk]
            texts = [self._texts(op) for op in ops]
            flat = [t for pairs in texts for _, t in pairs]
            vecs = (
                self._embedding_matrix(self.embeddings.embed_documents(flat), len(flat))
                if flat
                else np.empty((0, self._dims), dtype=np.float32)
            )

            def body(chunk: list[Any] = chunk, texts: list[Any] = texts, vecs: Any = vecs) -> None:
                i = 0
                for row, pairs in zip(chunk, texts, strict=True):
                    self._conn.execute("DELETE FROM retain_vectors WHERE item_id = ?", (row[0],))
                    for path, _ in pairs:
                        self._conn.execute(
                            "INSERT INTO retain_vectors(item_id, field, embedding) VALUES (?, ?, "
                            "?)",
                            (row[0], path, vecs[i].tobytes()),
                        )
                        i += 1

            with self._lock, store_errors(self.path):
                self._transaction(body)
                self._vectors_loaded = False  # reload on the next search
            count += len(chunk)
        with self._lock, store_errors(self.path):
            self._set_meta()
        self._stale = None
        return count

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many."""
        conn = self._conn

        def body() -> int:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM retain_items WHERE expires_at IS NOT NULL AND expires_at <= ?",
                    (self._clock.now(),),
                ).fetchall()
            ]
            if ids:
                marks = ",".join("?" * len(ids))
                conn.execute(f"DELETE FROM retain_items_fts WHERE rowid IN ({marks})", ids)
                conn.execute(f"DELETE FROM retain_items WHERE id IN ({marks})", ids)
            return len(ids)

        with self._lock, store_errors(self.path):
            count: int = self._transaction(body)
            self._stats.clear()
            if count:
                self._vectors_loaded = False
        return count

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"
