"""PostgreSQL schema of :class:`retain.stores.PostgresStore`: numbered migrations recorded in
``retain_migrations``, applied under an advisory lock, and the SQL fragments the store
composes (namespace prefixes, LangGraph filters on ``jsonb``).

Tables (all prefixed ``retain_`` so they can share a database with other software):

* ``retain_items``: one row per live item; ``body`` is its ``tsvector`` for keyword search.
* ``retain_vectors``: one row per indexed field of an item (``ON DELETE CASCADE``), with the
  item's namespace copied in so a one-namespace search reads only that namespace's rows.
* ``retain_history``: every put and delete, with provenance.
* ``retain_meta``: the embedding model the vectors were made with, and the text-search
  configuration the keywords were indexed with.
* ``retain_jobs``: the durable job queue (:class:`retain.queue.PostgresQueue`), next to the
  memories so a job's writes and its acknowledgement share a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retain.errors import InvalidInputError

__all__ = [
    "MIGRATION_LOCK",
    "PG_MIGRATIONS",
    "PORTER_CONFIG",
    "PgMigration",
    "apply_pg_migrations",
    "filter_sql",
    "hnsw_index_sql",
    "keyword_text",
    "pg_migration",
    "under_sql",
]

MIGRATION_LOCK = 0x7265_7461_696E  # "retain": the advisory lock key the migrations run under
MAX_KEYWORD_BYTES = 300_000
"""Most bytes of an item's text made into its ``tsvector``. PostgreSQL refuses a
``tsvector`` over 1 MB of lexemes and positions, which a text can reach at about 2.5 times
its own size (short distinct words, 2 bytes per position): 300 kB always fits."""


def keyword_text(text: str) -> str | None:
    """``text`` cut to at most :data:`MAX_KEYWORD_BYTES` of UTF-8 at a word boundary, for
    ``to_tsvector`` (the value itself is stored whole); ``None`` for no text.

    Example:
        >>> keyword_text("tea and cake")
        'tea and cake'
        >>> cut = keyword_text("word " * 100_000)
        >>> len(cut.encode()) <= MAX_KEYWORD_BYTES, cut.endswith("word")
        (True, True)
    """
    if not text:
        return None
    data = text.encode("utf-8")
    if len(data) <= MAX_KEYWORD_BYTES:
        return text
    cut = data[:MAX_KEYWORD_BYTES].decode("utf-8", errors="ignore")
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space] if space > 0 else cut


@dataclass(frozen=True)
class PgMigration:
    version: int
    name: str
    statements: tuple[str, ...]


PG_MIGRATIONS: list[PgMigration] = []


def pg_migration(version: int, name: str) -> Callable[[Callable[[], list[str]]], None]:
    """Register the SQL statements ``func()`` returns as PostgreSQL migration ``version``
    (versions must increase by one)."""

    def register(func: Callable[[], list[str]]) -> None:
        expected = len(PG_MIGRATIONS) + 1
        if version != expected:
            raise AssertionError(f"migration {name} has version {version}, expected {expected}")
        PG_MIGRATIONS.append(PgMigration(version, name, tuple(func())))

    return register


@pg_migration(1, "items, vectors, keyword index, history, meta")
def _initial() -> list[str]:
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        'CREATE TABLE retain_items (id bigserial PRIMARY KEY, prefix text COLLATE "C" NOT NULL, '
        "key text NOT NULL, value jsonb NOT NULL, created_at timestamptz NOT NULL, "
        "updated_at timestamptz NOT NULL, expires_at timestamptz, ttl_minutes float8, "
        "body tsvector, UNIQUE (prefix, key))",
        "CREATE INDEX retain_items_body ON retain_items USING gin (body)",
        "CREATE INDEX retain_items_expires ON retain_items (expires_at) "
        "WHERE expires_at IS NOT NULL",
        "CREATE TABLE retain_vectors (item_id bigint NOT NULL REFERENCES retain_items(id) "
        'ON DELETE CASCADE, prefix text COLLATE "C" NOT NULL, field text NOT NULL, '
        "embedding vector NOT NULL, PRIMARY KEY (item_id, field))",
        "CREATE INDEX retain_vectors_prefix ON retain_vectors (prefix)",
        'CREATE TABLE retain_history (id bigserial PRIMARY KEY, prefix text COLLATE "C" '
        "NOT NULL, key text NOT NULL, version integer NOT NULL, op text NOT NULL "
        "CHECK (op IN ('put', 'delete')), value jsonb, at timestamptz NOT NULL, "
        "provenance jsonb NOT NULL DEFAULT '{}', UNIQUE (prefix, key, version))",
        "CREATE TABLE retain_meta (name text PRIMARY KEY, value text NOT NULL)",
    ]


@pg_migration(2, "durable job queue")
def _jobs() -> list[str]:
    return [
        "CREATE TABLE retain_jobs (id bigserial PRIMARY KEY, queue text NOT NULL, key text, "
        "idempotency_key text UNIQUE, payload text NOT NULL, config text NOT NULL DEFAULT "
        "'{}', state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead', "
        "'superseded', 'cancelled')), run_at float8 NOT NULL, attempts integer NOT NULL "
        "DEFAULT 0, max_attempts integer NOT NULL, lease_token text, leased_until float8, "
        "worker text, effect_at float8, error text, result text, created_at float8 NOT NULL, "
        "updated_at float8 NOT NULL)",
        "CREATE INDEX retain_jobs_due ON retain_jobs (queue, state, run_at)",
        "CREATE INDEX retain_jobs_key ON retain_jobs (queue, key) WHERE state = 'queued'",
    ]


@pg_migration(3, "API keys of retain serve")
def _api_keys() -> list[str]:
    return [
        "CREATE TABLE retain_api_keys (id text PRIMARY KEY, name text NOT NULL, subject text, "
        "prefixes text NOT NULL, permissions text NOT NULL, secret_hash text NOT NULL, "
        "created_at float8 NOT NULL, revoked_at float8)"
    ]


@pg_migration(4, "index of items by namespace and id (recall's neighbours)")
def _prefix_id() -> list[str]:
    return ["CREATE INDEX retain_items_prefix_id ON retain_items (prefix, id)"]


@pg_migration(5, "keyword index without a pending list (keyword reads stay fast after writes)")
def _keyword_index_direct() -> list[str]:
    # With GIN's fast update, new rows wait in a pending list (up to 4 MB) that every
    # keyword query reads in full and that only VACUUM merges: after a burst of writes a
    # keyword search of a 10k-memory namespace took ~5 ms instead of ~1 (and the planner,
    # pricing the list, fell back to scanning the table). Recall reads far more than it
    # writes, so each write updates the index itself.
    return [
        "ALTER INDEX retain_items_body SET (fastupdate = off)",
        "SELECT gin_clean_pending_list('retain_items_body'::regclass)",
    ]


PORTER_CONFIG = "retain_porter"
"""The text-search configuration of new databases: PostgreSQL's ``english`` parser with the
original Porter stemmer and no stopword list, as SQLite's FTS5 ``porter`` tokenizer and
retain's ranking (:func:`retain.core.ranking.stems`) read words, so both stores match the
same memories for a word."""


@pg_migration(6, "text-search configuration with the Porter stemmer (as SQLite's)")
def _porter_config() -> list[str]:
    return [
        # no stopword list: SQLite's index keeps every word too, and a stem can equal a
        # stopword ("used" -> "us"), which would otherwise match differently
        f"CREATE TEXT SEARCH DICTIONARY {PORTER_CONFIG} (TEMPLATE = snowball, Language = porter)",
        f"CREATE TEXT SEARCH CONFIGURATION {PORTER_CONFIG} (COPY = english)",
        f"ALTER TEXT SEARCH CONFIGURATION {PORTER_CONFIG} ALTER MAPPING FOR asciiword, "
        f"asciihword, hword_asciipart, word, hword, hword_part WITH {PORTER_CONFIG}",
    ]


CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS retain_migrations (version integer PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


def apply_pg_migrations(conn: Any, extra: Sequence[str] = ()) -> list[int]:
    """Apply the pending migrations on ``conn`` (a psycopg connection, in autocommit mode),
    then the ``extra`` statements, in one transaction under :data:`MIGRATION_LOCK`;
    returns the versions applied.

    Safe when several processes open the same database at once: one migrates while the
    others wait on the advisory lock, then find nothing to do."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(CREATE_MIGRATIONS_TABLE)
        done = {r[0] for r in conn.execute("SELECT version FROM retain_migrations")}
        for step in PG_MIGRATIONS:
            if step.version in done:
                continue
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO retain_migrations(version, name) VALUES (%s, %s)",
                (step.version, step.name),
            )
            applied.append(step.version)
        for statement in extra:
            conn.execute(statement)
    return applied


def hnsw_index_sql(dims: int) -> str:
    """The optional ANN index, on the vectors cast to their fixed size (an expression index:
    exact one-namespace queries, written without the cast, can never use it)."""
    return (
        f"CREATE INDEX IF NOT EXISTS retain_vectors_hnsw_{dims} ON retain_vectors USING hnsw "
        f"((embedding::vector({dims})) vector_cosine_ops)"
    )


def under_sql(column: str) -> str:
    """Rows whose namespace equals or lies under a prefix; binds ``%(p)s``, ``%(lo)s``,
    ``%(hi)s`` (see :func:`under_params`)."""
    return f"({column} = %(p)s OR ({column} >= %(lo)s AND {column} < %(hi)s))"


def under_params(prefix: str) -> dict[str, str]:
    if not prefix:
        return {"p": "", "lo": "", "hi": "\U0010ffff"}
    return {"p": prefix, "lo": prefix + ".", "hi": prefix + "/"}  # "/" follows "." in "C"


_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def filter_sql(filter: Mapping[str, Any] | None, column: str, params: dict[str, Any]) -> str:
    """LangGraph's filter as SQL on a ``jsonb`` column (``"TRUE"`` without a filter).

    Exact match compares ``jsonb`` values (``1`` equals ``1.0``, as in Python);
    ``$gt``/``$gte``/``$lt``/``$lte`` compare numbers as numbers and strings as strings
    (code-point order), and are false for other types, like :func:`matches_filter`.
    Parameters are added to ``params``.
    """
    if not filter:
        return "TRUE"
    import json

    parts: list[str] = []

    def bind(value: Any) -> str:
        name = f"f{len(params)}"
        params[name] = value
        return f"%({name})s"

    for key, cond in filter.items():
        field = f"({column} -> {bind(str(key))})"
        ops = (
            cond
            if isinstance(cond, dict) and cond and all(str(k).startswith("$") for k in cond)
            else {"$eq": cond}
        )
        for op, target in ops.items():
            if op in ("$eq", "$ne"):
                literal = bind(json.dumps(target)) + "::jsonb"
                parts.append(
                    f"{field} = {literal}" if op == "$eq" else f"{field} IS DISTINCT FROM {literal}"
                )
            elif op in _OPERATORS:
                sign = _OPERATORS[op]
                if isinstance(target, bool):
                    kind, cast = "boolean", "::boolean"
                elif isinstance(target, (int, float)):
                    kind, cast = "number", "::float8"
                elif isinstance(target, str):
                    kind, cast = "string", ' COLLATE "C"'
                else:
                    parts.append("FALSE")
                    continue
                text = f"({column} ->> {bind(str(key))})"
                parts.append(
                    f"(CASE WHEN jsonb_typeof({field}) = '{kind}' THEN "
                    f"({text}{cast}) {sign} {bind(target)} ELSE FALSE END)"
                )
            else:
                raise InvalidInputError(
                    f"Unknown filter operator {op!r}; use $eq, $ne, $gt, $gte, $lt, $lte."
                )
    return " AND ".join(parts)
