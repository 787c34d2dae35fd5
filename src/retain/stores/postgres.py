"""``PostgresStore``: retain's server store, PostgreSQL with pgvector, sync and async.

* Search inside one namespace is exact: rows are selected by namespace first, then ordered
  by cosine distance, with no ANN index involved. An optional HNSW index
  (``ann_index=True``) serves only searches over more than ``ann_threshold`` vectors (a
  wide prefix), so it can never lower per-namespace recall.
* Keywords use PostgreSQL full-text search (a ``tsvector`` per item, GIN index); hybrid
  recall ranks both with :mod:`retain.core.ranking`, the same code as SQLite's.
* A batch is one transaction: all of it or none of it. Writes are set-based (one statement
  per table per batch, vectors by binary ``COPY``); deadlocks between concurrent writers
  are retried (bounded).
* Sync calls use a ``psycopg_pool.ConnectionPool``; async calls a few reused connections
  of each event loop, with no background task: ``abatch`` is native async, not a thread.
* Each operation is written once, as a generator of SQL steps (:class:`Sql`, :class:`Copy`)
  that receives the rows; a small sync and a small async driver run them.
* Migrations (:mod:`retain.stores.pg_schema`) run under ``pg_advisory_xact_lock``, so
  several processes can open the same database at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from langgraph.store.base import (
    GetOp,
    IndexConfig,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from retain.clock import Clock, as_clock
from retain.closing import Closing
from retain.errors import (
    ConfigurationError,
    EmbeddingDimensionError,
    InvalidInputError,
    MissingDependencyError,
    StoreError,
)
from retain.stores.base import (
    NamespaceCounts,
    RecallArgs,
    RetainStore,
    Version,
    current_provenance,
    export_records,
    index_texts,
    ns_text,
    ns_tuple,
    parse_index,
    value_strings,
)
from retain.stores.hooks import pg_purge_jobs, pg_write_steps, write_replayed
from retain.stores.pg_schema import (
    PORTER_CONFIG,
    apply_pg_migrations,
    hnsw_index_sql,
    keyword_text,
    under_params,
    under_sql,
)
from retain.stores.validation import (
    CheckedCalls,
    check_count,
    check_key,
    check_namespace,
    check_op,
    check_ttl_config,
)

try:
    import psycopg

    from retain.stores.pg_driver import Copy, PgConnections, Sql, Steps, classify, redact
    from retain.stores.pg_reads import PgReads
except ImportError as e:  # pragma: no cover - exercised in a test with the package hidden
    raise MissingDependencyError("PostgresStore", e.name or "psycopg", "postgres") from e

__all__ = ["PostgresStore"]

_Key = tuple[tuple[str, ...], str]


@dataclass
class _Plan:
    """A validated batch: reads in order, and the last write of each item."""

    ops: list[Op]
    puts: dict[_Key, PutOp]
    values: dict[_Key, str]
    texts: dict[_Key, list[tuple[str, str]]]
    queries: list[str]


class PostgresStore(PgReads, CheckedCalls, RetainStore, Closing):
    """A LangGraph ``BaseStore`` on PostgreSQL + pgvector, with retain's extensions.

    Args:
        conn_string: A libpq URL, ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``.
        index: LangGraph's index config ``{"embed": ..., "dims": ..., "fields": [...]}``
            (see :class:`retain.stores.SQLiteStore`); left out, the offline MiniLM
            embedding; ``False`` for keywords only.
        ttl: LangGraph's TTL config.
        pool_size: Most connections each pool (sync, and async per event loop) opens.
        ann_index: Also build an HNSW index, used only for searches over more than
            ``ann_threshold`` vectors; smaller searches (any one namespace below that
            size) stay exact.
        text_search_config: The PostgreSQL text-search configuration keywords are
            indexed with. Left out: the one the database recorded, or for a new database
            ``"retain_porter"`` (English with the original Porter stemmer, as SQLite's store
            and retain's ranking stem; databases made before it keep ``"english"``). A
            configuration other than the recorded one is a :class:`ConfigurationError`.
        connect_timeout: Seconds to wait for a new connection.
        clock: What the store reads the time from (TTLs, timestamps, history):
            :class:`retain.clock.SystemClock` by default; tests pass a
            :class:`retain.clock.ManualClock`.
        lock_timeout: Seconds a statement waits for another client's lock (a row being
            written by another transaction) before :class:`~retain.errors.StoreLockedError`;
            ``None`` waits as long as the server's default allows.
        statement_timeout: Seconds a statement may run before
            :class:`~retain.errors.StoreTimeoutError`; ``None`` for the server's default.

    Raises:
        ConfigurationError: ``conn_string`` is neither a URL nor libpq ``key=value`` pairs.
        StoreUnavailableError: the server cannot be reached with ``conn_string``.

    Example (needs a running server, hence not run here):

    .. code-block:: python

        store = PostgresStore("postgresql://postgres@localhost/app", index={
            "embed": "local:minilm", "dims": 384})
        store.put(("memories", "alice"), "k1", {"content": "Alice prefers dark mode"})
        store.recall(("memories",), query="dark mode")
    """

    def __init__(
        self,
        conn_string: str,
        *,
        index: IndexConfig | dict[str, Any] | Literal[False] | None = None,
        ttl: TTLConfig | None = None,
        pool_size: int = 8,
        ann_index: bool = False,
        ann_threshold: int = 20_000,
        text_search_config: str | None = None,
        connect_timeout: float = 10.0,
        clock: Clock | Callable[[], float] | None = None,
        lock_timeout: float | None = 30.0,
        statement_timeout: float | None = 300.0,
    ) -> None:
        self.conn_string = conn_string
        self.ttl_config = check_ttl_config(ttl)
        self.ann_threshold = ann_threshold
        self.index_config, self.embeddings, self.embedding_id, self._fields = parse_index(index)
        self._dims = int(self.index_config["dims"]) if self.index_config else 0
        self._ann = bool(ann_index and self.index_config)
        self._clock = as_clock(clock)
        self._stats_cache = {}
        self._docs = {}
        self._db = PgConnections(
            conn_string,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
        )
        self._setup()
        self._db.open()
        try:
            self.text_search_config = self._db.drive(self._keyword_config(text_search_config))
        except BaseException:
            self._db.close()
            raise
        self._stale = self._db.drive(self._check_embedding_model())

    # -- setup -----------------------------------------------------------------------------

    def _setup(self) -> None:
        """Apply pending migrations (and the ANN index) under an advisory lock."""
        conn = self._db.connect()
        try:
            apply_pg_migrations(conn, [hnsw_index_sql(self._dims)] if self._ann else [])
        except psycopg.errors.FeatureNotSupported as e:
            raise StoreError(f"PostgreSQL could not set up retain's schema: {e}") from e
        except psycopg.errors.UndefinedFile as e:
            raise StoreError(
                f"The pgvector extension is not installed on this server ({e}); install "
                "pgvector (https://github.com/pgvector/pgvector) or use a server that has it."
            ) from e
        except psycopg.Error as e:  # e.g. no right to create tables: the server's message
            raise classify(self.conn_string, e) from e
        finally:
            conn.close()

    def _keyword_config(self, requested: str | None) -> Steps[str]:
        """The text-search configuration this database's keywords are indexed with: the
        recorded one; else ``requested``, or for a database that already holds keywords
        ``english`` (the default before one was recorded), or :data:`PORTER_CONFIG`
        (recorded for later openers)."""
        if requested is not None:
            found = yield Sql(
                "SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = %(c)s)",
                {"c": requested.rsplit(".", 1)[-1]},  # "pg_catalog.english" too
            )
            if not found[0][0]:
                raise ConfigurationError(
                    f"PostgreSQL has no text search configuration {requested!r}; name one of "
                    "pg_ts_config (such as 'english' or 'simple') or leave it out."
                )
        get = "SELECT value FROM retain_meta WHERE name = 'text_search_config'"
        rows = yield Sql(get)
        if not rows:
            indexed = yield Sql("SELECT 1 FROM retain_items WHERE body IS NOT NULL LIMIT 1")
            chosen = requested or ("english" if indexed else PORTER_CONFIG)
            yield Sql(
                "INSERT INTO retain_meta(name, value) VALUES ('text_search_config', %(c)s) "
                "ON CONFLICT (name) DO NOTHING",
                {"c": chosen},
            )
            rows = yield Sql(get)
        recorded = str(rows[0][0])
        if requested is not None and requested != recorded:
            raise ConfigurationError(
                f"The keywords in {redact(self.conn_string)} are indexed with the text search "
                f"configuration {recorded!r}, not {requested!r}: open the store with "
                f"text_search_config={recorded!r} (or leave it out)."
            )
        return recorded

    def _check_embedding_model(self) -> Steps[str | None]:
        if self.index_config is None:
            return None
        rows = yield Sql("SELECT name, value FROM retain_meta")
        meta: dict[str, str] = dict(rows)
        has = yield Sql("SELECT 1 FROM retain_vectors LIMIT 1")
        current = (str(self.embedding_id), str(self._dims))
        recorded = (meta.get("embedding_id"), meta.get("embedding_dims"))
        if has and recorded[0] is not None and recorded != current:
            return (
                f"The vectors in {redact(self.conn_string)} were made with {recorded[0]} "
                f"({recorded[1]} dims), but the store was opened with {current[0]} "
                f"({current[1]} dims). Call store.reembed() to recompute them with the new "
                "model (or open the store with the old one)."
            )
        if not has:
            yield from self._set_meta()
        return None

    def _set_meta(self) -> Steps[None]:
        yield Sql(
            "INSERT INTO retain_meta(name, value) VALUES ('embedding_id', %(id)s), "
            "('embedding_dims', %(dims)s) ON CONFLICT (name) DO UPDATE SET value = "
            "excluded.value",
            {"id": str(self.embedding_id), "dims": str(self._dims)},
        )

    def _require_fresh_vectors(self) -> None:
        if self._stale:
            raise ConfigurationError(self._stale)

    def close(self) -> None:
        """Close the connection pools."""
        self._db.close()

    async def aclose(self) -> None:
        """Close the running event loop's async pool (cleanly), then the rest."""
        await self._db.aclose()

    # -- batch -------------------------------------------------------------------------------

    def _plan(self, ops: Iterable[Op]) -> _Plan:
        """Validate every op before anything runs: a bad op fails the batch up front."""
        ops = list(ops)
        puts: dict[_Key, PutOp] = {}
        queries: list[str] = []
        values: dict[_Key, str] = {}
        for op in ops:
            encoded = check_op(op)  # retain's typed errors, the same as SQLiteStore's
            if isinstance(op, PutOp):
                key = (tuple(op.namespace), op.key)
                puts[key] = op
                values.pop(key, None)
                if encoded is not None:
                    values[key] = encoded
            elif isinstance(op, SearchOp) and op.query and self.embeddings is not None:
                queries.append(op.query)
        texts = {k: index_texts(puts[k].value, self._fields, puts[k].index) for k in values}
        return _Plan(ops, puts, values, texts, queries)

    def _vectors(self, plan: _Plan, vecs: list[list[float]]) -> dict[_Key, list[Any]]:
        out: dict[_Key, list[Any]] = {}
        if self.embeddings is None:
            return out
        i = 0
        for key, pairs in plan.texts.items():
            rows = []
            for path, _ in pairs:
                rows.append((path, self._vector(vecs[i], "a vector")))
                i += 1
            out[key] = rows
        if i != len(vecs):
            raise EmbeddingDimensionError(
                f"The embedding model returned {len(vecs)} vectors for {i} texts."
            )
        return out

    def _flat_texts(self, plan: _Plan) -> list[str]:
        if self.embeddings is None:
            return []
        flat = [text for pairs in plan.texts.values() for _, text in pairs]
        if flat or plan.queries:
            self._require_fresh_vectors()
        return flat

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        plan = self._plan(ops)
        flat = self._flat_texts(plan)
        vectors = self._vectors(plan, self.embeddings.embed_documents(flat) if flat else [])
        queries = {q: self.embeddings.embed_query(q) for q in plan.queries}
        return self._db.drive(
            self._batch(plan, vectors, queries),
            factory=lambda: self._batch(plan, vectors, queries),
        )

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        plan = self._plan(ops)
        flat = self._flat_texts(plan)
        embedded = await self.embeddings.aembed_documents(flat) if flat else []
        vectors = self._vectors(plan, embedded)
        queries = {q: await self.embeddings.aembed_query(q) for q in plan.queries}
        return await self._db.adrive(
            self._batch(plan, vectors, queries),
            factory=lambda: self._batch(plan, vectors, queries),
        )

    def _batch(
        self, plan: _Plan, vectors: dict[_Key, list[Any]], queries: dict[str, list[float]]
    ) -> Steps[list[Result]]:
        now = self._now()
        results: list[Result] = [None] * len(plan.ops)
        refresh: list[int] = []
        for i, op in enumerate(plan.ops):
            if isinstance(op, GetOp):
                results[i], ids = yield from self._get(op, now)
                refresh += ids
            elif isinstance(op, SearchOp):
                q = queries.get(op.query) if op.query else None
                results[i], ids = yield from self._search(op, q, now)
                refresh += ids
            elif isinstance(op, ListNamespacesOp):
                results[i] = yield from self._list_namespaces(op, now)
        if refresh:
            yield Sql(
                "UPDATE retain_items SET expires_at = %(now)s + ttl_minutes * interval "
                "'1 minute' WHERE ttl_minutes IS NOT NULL AND id = ANY(%(ids)s)",
                {"now": now, "ids": refresh},
            )
        if plan.puts:
            yield from self._write(plan, vectors, now)
        return results

    # -- writes ------------------------------------------------------------------------------

    def _write(self, plan: _Plan, vectors: dict[_Key, list[Any]], now: datetime) -> Steps[None]:
        if write_replayed(self, {ns_text(ns) for ns, _ in plan.puts}):  # written before
            return
        prov = json.dumps(current_provenance(), default=str)
        history: list[tuple[str, str, str, str | None]] = []
        deletes = sorted(k for k, op in plan.puts.items() if op.value is None)
        if deletes:
            gone = yield Sql(
                "DELETE FROM retain_items i USING unnest(%(p)s::text[], %(k)s::text[]) AS "
                "d(prefix, key) WHERE i.prefix = d.prefix AND i.key = d.key "
                "RETURNING i.prefix, i.key",
                {"p": [ns_text(ns) for ns, _ in deletes], "k": [k for _, k in deletes]},
            )
            history += [(p, k, "delete", None) for p, k in gone]
        upserts = sorted(plan.values)
        if upserts:
            expires, ttls, bodies = [], [], []
            for key in upserts:
                op = plan.puts[key]
                expires.append(None if op.ttl is None else now + timedelta(minutes=op.ttl))
                ttls.append(op.ttl)
                texts = plan.texts[key]
                if self.index_config:
                    body = " ".join(t for _, t in texts)
                else:
                    body = " ".join(value_strings(op.value)) if op.index is not False else ""
                bodies.append(keyword_text(body))  # capped: a tsvector holds at most 1 MB
            # New items get ids in the batch's order (recall's neighbours are items written
            # next to each other); rows are still written in key order (no deadlocks).
            fresh = yield Sql(
                "SELECT nextval(pg_get_serial_sequence('retain_items', 'id')) FROM "
                "generate_series(1, %(n)s) ORDER BY 1",
                {"n": len(upserts)},
            )
            new_ids = dict(zip(plan.values, (int(r[0]) for r in fresh), strict=True))
            rows = yield Sql(
                "INSERT INTO retain_items AS i (id, prefix, key, value, created_at, updated_at, "
                "expires_at, ttl_minutes, body) SELECT u.id, u.prefix, u.key, u.value::jsonb, "
                "%(now)s, %(now)s, u.expires_at, u.ttl, to_tsvector(%(cfg)s::regconfig, u.body) "
                "FROM unnest(%(i)s::int8[], %(p)s::text[], %(k)s::text[], %(v)s::text[], "
                "%(e)s::timestamptz[], %(t)s::float8[], %(b)s::text[]) "
                "AS u(id, prefix, key, value, expires_at, ttl, body) ORDER BY u.prefix, u.key "
                "ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at, expires_at = excluded.expires_at, "
                "ttl_minutes = excluded.ttl_minutes, body = excluded.body "
                "RETURNING i.id, i.prefix, i.key",
                {
                    "now": now,
                    "cfg": self.text_search_config,
                    "i": [new_ids[k] for k in upserts],
                    "p": [ns_text(ns) for ns, _ in upserts],
                    "k": [k for _, k in upserts],
                    "v": [plan.values[k] for k in upserts],
                    "e": expires,
                    "t": ttls,
                    "b": bodies,
                },
            )
            ids = {(p, k): item_id for item_id, p, k in rows}
            yield Sql(
                "DELETE FROM retain_vectors WHERE item_id = ANY(%(ids)s)",
                {"ids": list(ids.values())},
            )
            copy_rows = [
                (ids[(ns_text(ns), k)], ns_text(ns), path, vec)
                for (ns, k), pairs in vectors.items()
                for path, vec in pairs
            ]
            if copy_rows:
                yield Copy(
                    "COPY retain_vectors (item_id, prefix, field, embedding) FROM STDIN "
                    "WITH (FORMAT BINARY)",
                    ("int8", "text", "text", "vector"),
                    copy_rows,
                )
            history += [(ns_text(ns), k, "put", plan.values[(ns, k)]) for ns, k in upserts]
        if history:
            yield Sql(
                "INSERT INTO retain_history (prefix, key, version, op, value, at, provenance) "
                "SELECT h.prefix, h.key, COALESCE((SELECT max(x.version) FROM retain_history x "
                "WHERE x.prefix = h.prefix AND x.key = h.key), 0) + 1, h.op, h.value::jsonb, "
                "%(now)s, %(prov)s::jsonb FROM unnest(%(p)s::text[], %(k)s::text[], "
                "%(o)s::text[], %(v)s::text[]) AS h(prefix, key, op, value)",
                {
                    "now": now,
                    "prov": prov,
                    "p": [h[0] for h in history],
                    "k": [h[1] for h in history],
                    "o": [h[2] for h in history],
                    "v": [h[3] for h in history],
                },
            )
        yield from pg_write_steps(self)

    # -- retain's extensions -------------------------------------------------------------------

    def _wants_vector(self, args: RecallArgs) -> bool:
        wants = bool(args.query) and args.mode in ("hybrid", "vector")
        if wants and self.embeddings is not None:
            self._require_fresh_vectors()
            return True
        return False

    def _recall(self, args: RecallArgs) -> list[SearchItem]:
        q = self.embeddings.embed_query(args.query) if self._wants_vector(args) else None
        return self._db.drive(self._recall_rows(args, q))

    async def _arecall(self, args: RecallArgs) -> list[SearchItem]:
        """Native async, on the async pool."""
        q = await self.embeddings.aembed_query(args.query) if self._wants_vector(args) else None
        return await self._db.adrive(self._recall_rows(args, q))

    def _namespace_counts(self, prefix: tuple[str, ...]) -> NamespaceCounts:
        return self._db.drive(self._summary_rows(prefix, self._now()))

    async def _anamespace_counts(self, prefix: tuple[str, ...]) -> NamespaceCounts:
        """Native async, on the async pool."""
        return await self._db.adrive(self._summary_rows(prefix, self._now()))

    def _history(self, namespace: tuple[str, ...], key: str) -> Steps[list[Version]]:
        rows = yield Sql(
            "SELECT version, op, value, at, provenance FROM retain_history WHERE prefix = %(p)s "
            "AND key = %(k)s ORDER BY version",
            {"p": ns_text(namespace), "k": key},
        )
        return [Version(r[0], r[1], r[2], r[3], r[4] or {}) for r in rows]

    def history(self, namespace: tuple[str, ...], key: str) -> list[Version]:
        return self._db.drive(self._history(check_namespace(namespace), check_key(key)))

    async def ahistory(self, namespace: tuple[str, ...], key: str) -> list[Version]:
        return await self._db.adrive(self._history(check_namespace(namespace), check_key(key)))

    def _purge(self, namespace_prefix: tuple[str, ...]) -> Steps[int]:
        if not namespace_prefix:
            raise InvalidInputError("purge needs a non-empty namespace prefix.")
        params = under_params(ns_text(namespace_prefix))
        gone = yield Sql(
            f"DELETE FROM retain_items i WHERE {under_sql('i.prefix')} RETURNING i.id", params
        )
        yield Sql(f"DELETE FROM retain_vectors v WHERE {under_sql('v.prefix')}", params)
        yield Sql(f"DELETE FROM retain_history h WHERE {under_sql('h.prefix')}", params)
        yield from pg_purge_jobs(namespace_prefix)  # queued conversations of the purged users
        return len(gone)

    def purge(self, namespace_prefix: tuple[str, ...]) -> int:
        return self._db.drive(self._purge(check_namespace(namespace_prefix, prefix=True)))

    async def apurge(self, namespace_prefix: tuple[str, ...]) -> int:
        return await self._db.adrive(self._purge(check_namespace(namespace_prefix, prefix=True)))

    def _export(self, namespace_prefix: tuple[str, ...]) -> Steps[list[dict[str, Any]]]:
        params = under_params(ns_text(namespace_prefix))
        items = yield Sql(
            "SELECT prefix, key, value, created_at, updated_at FROM retain_items i WHERE "
            f"{under_sql('i.prefix')} ORDER BY prefix, key",
            params,
        )
        versions = yield Sql(
            "SELECT prefix, key, version, op, value, at, provenance FROM retain_history h "
            f"WHERE {under_sql('h.prefix')} ORDER BY prefix, key, version",
            params,
        )
        out = list(
            export_records(
                ((ns_tuple(p), k, v, c, u) for p, k, v, c, u in items),
                ((ns_tuple(p), k, n, op, v, at, pv) for p, k, n, op, v, at, pv in versions),
            )
        )
        return out

    def export(self, namespace_prefix: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        yield from self._db.drive(self._export(check_namespace(namespace_prefix, prefix=True)))

    async def aexport(self, namespace_prefix: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
        """Async :meth:`export`."""
        prefix = check_namespace(namespace_prefix, prefix=True)
        for record in await self._db.adrive(self._export(prefix)):
            yield record

    def reembed(self, *, batch_size: int = 64) -> int:
        if self.embeddings is None or self.index_config is None:
            raise ConfigurationError("This store has no index (embedding model) to re-embed with.")
        check_count("batch_size", batch_size, 1)
        count, last = 0, 0
        while True:
            chunk = self._db.drive(self._chunk(last, batch_size))
            if not chunk:
                break
            ops = [PutOp(ns_tuple(p), k, v) for _, p, k, v in chunk]
            texts = [index_texts(op.value, self._fields, None) for op in ops]
            flat = [t for pairs in texts for _, t in pairs]
            vecs = self.embeddings.embed_documents(flat) if flat else []
            rows: list[tuple[Any, ...]] = []
            i = 0
            for (item_id, prefix, _, _), pairs in zip(chunk, texts, strict=True):
                for path, _ in pairs:
                    rows.append((item_id, prefix, path, self._vector(vecs[i], "a vector")))
                    i += 1
            self._db.drive(self._replace_vectors([c[0] for c in chunk], rows))
            count += len(chunk)
            last = chunk[-1][0]
        self._db.drive(self._set_meta())
        self._stale = None
        return count

    def _chunk(self, after: int, size: int) -> Steps[list[tuple[Any, ...]]]:
        rows = yield Sql(
            "SELECT id, prefix, key, value FROM retain_items WHERE id > %(a)s ORDER BY id "
            "LIMIT %(n)s",
            {"a": after, "n": size},
        )
        return rows

    def _replace_vectors(self, ids: list[int], rows: list[tuple[Any, ...]]) -> Steps[None]:
        yield Sql("DELETE FROM retain_vectors WHERE item_id = ANY(%(ids)s)", {"ids": ids})
        if rows:
            yield Copy(
                "COPY retain_vectors (item_id, prefix, field, embedding) FROM STDIN "
                "WITH (FORMAT BINARY)",
                ("int8", "text", "text", "vector"),
                rows,
            )

    def _sweep(self) -> Steps[int]:
        gone = yield Sql(
            "DELETE FROM retain_items WHERE expires_at IS NOT NULL AND expires_at <= %(now)s "
            "RETURNING id",
            {"now": self._now()},
        )
        return len(gone)

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many."""
        return self._db.drive(self._sweep())

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.conn_string)!r})"
