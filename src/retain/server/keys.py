"""API keys of ``retain serve``: stored hashed in the store's own database, each limited to
namespace prefixes and permissions.

A key reads ``rk_<id>_<secret>``: ``id`` names the row, ``secret`` (32 random bytes) is
kept only as its SHA-256 hash, so a copy of the database reveals no usable key. A key's
prefixes may be templates: ``("users", "{key_subject}")`` becomes ``("users", "u1")`` for
a key created with ``subject="u1"``.

Permissions: ``read`` (get, list, search, history, namespaces, profiles, jobs), ``write``
(put, delete, restore, profile updates, conversations, job retry) and ``admin`` (export,
purge, keys).

Example:
    >>> import tempfile, os
    >>> from retain.server.keys import open_key_store
    >>> from retain.stores import SQLiteStore
    >>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "memories.db"))
    >>> keys = open_key_store(store)
    >>> key, secret = keys.create("app", prefixes=[("users", "{key_subject}")], subject="u1")
    >>> keys.verify(secret).scopes
    (('users', 'u1'),)
    >>> keys.verify("rk_nope_nope") is None
    True
    >>> keys.close(); store.close()
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from retain.errors import ConfigurationError, InvalidInputError, StoreError

__all__ = [
    "PERMISSIONS",
    "ApiKey",
    "KeyStore",
    "Permission",
    "admin_key",
    "expand_prefix",
    "open_key_store",
]

Permission = Literal["read", "write", "admin"]
PERMISSIONS: tuple[Permission, ...] = ("read", "write", "admin")
SUBJECT = "{key_subject}"
_COLUMNS = "id, name, subject, prefixes, permissions, created_at, revoked_at"


def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not label or "." in label or "\x00" in label:
        raise InvalidInputError(
            f"A namespace label must be a non-empty string without '.'; got {label!r}."
        )
    return label


def expand_prefix(prefix: Sequence[str], subject: str | None) -> tuple[str, ...]:
    """``prefix`` with ``{key_subject}`` labels replaced by ``subject``.

    Example:
        >>> expand_prefix(("users", "{key_subject}"), "u1")
        ('users', 'u1')
    """
    out = []
    for label in prefix:
        _check_label(label)
        if SUBJECT in label:
            if not subject:
                raise InvalidInputError(
                    f"The prefix {tuple(prefix)!r} names {SUBJECT}; give the key a subject."
                )
            label = label.replace(SUBJECT, subject)
            _check_label(label)
        elif "{" in label or "}" in label:
            raise InvalidInputError(
                f"Unknown template label {label!r}; the only template is {SUBJECT}."
            )
        out.append(label)
    return tuple(out)


@dataclass(frozen=True)
class ApiKey:
    """A stored API key, without its secret."""

    id: str
    name: str
    subject: str | None
    prefixes: tuple[tuple[str, ...], ...]
    """The prefixes as given (templates kept)."""
    permissions: frozenset[Permission]
    created_at: float
    revoked_at: float | None = None

    @property
    def scopes(self) -> tuple[tuple[str, ...], ...]:
        """The namespace prefixes this key reaches, templates filled in."""
        return tuple(expand_prefix(p, self.subject) for p in self.prefixes)

    def allows(self, namespace: Sequence[str]) -> bool:
        """Whether ``namespace`` (or a prefix asked for) lies under one of :attr:`scopes`."""
        ns = tuple(namespace)
        return any(ns[: len(p)] == p for p in self.scopes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "subject": self.subject,
            "prefixes": [list(p) for p in self.prefixes],
            "scopes": [list(p) for p in self.scopes],
            "permissions": sorted(self.permissions),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def admin_key(secret: str) -> tuple[ApiKey, str]:
    """The bootstrap admin key: every namespace, every permission; kept only in memory
    (``RETAIN_ADMIN_KEY`` for ``retain serve``). Returns the key and its secret's hash."""
    if len(secret) < 16:
        raise ConfigurationError("The admin key must be at least 16 characters long.")
    key = ApiKey("admin", "bootstrap admin", None, ((),), frozenset(PERMISSIONS), 0.0)
    return key, _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        id=row[0],
        name=row[1],
        subject=row[2],
        prefixes=tuple(tuple(p) for p in json.loads(row[3])),
        permissions=frozenset(json.loads(row[4])),
        created_at=float(row[5]),
        revoked_at=None if row[6] is None else float(row[6]),
    )


def _check_permissions(permissions: Iterable[str]) -> frozenset[Permission]:
    chosen = list(permissions)
    unknown = sorted(set(chosen) - set(PERMISSIONS))
    if unknown or not chosen:
        raise InvalidInputError(f"Permissions must be some of {list(PERMISSIONS)}; got {chosen!r}.")
    return frozenset(p for p in PERMISSIONS if p in chosen)


class KeyStore:
    """The API keys in a store's database (table ``retain_api_keys``).

    Use :func:`open_key_store`; every method is a short transaction, safe from threads.
    """

    def __init__(self, conn: Any, placeholder: str, location: str, *, pool: Any = None) -> None:
        self._conn = conn
        self._pool = pool  # PostgreSQL: a psycopg_pool.ConnectionPool, shared by threads
        self._p = placeholder
        self._location = location
        self._lock = threading.Lock()

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        sql = sql.replace("?", self._p)
        try:
            if self._pool is not None:
                with self._pool.connection() as conn:
                    cursor = conn.execute(sql, tuple(args))
                    return list(cursor.fetchall()) if cursor.description else []
            with self._lock:
                cursor = self._conn.execute(sql, tuple(args))
                return list(cursor.fetchall()) if cursor.description else []
        except Exception as e:
            raise StoreError(f"The API keys in {self._location} cannot be read: {e}") from e

    def create(
        self,
        name: str,
        *,
        prefixes: Sequence[Sequence[str]],
        permissions: Iterable[str] = ("read", "write"),
        subject: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns it and its secret (shown once, never stored)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("A key needs a non-empty name.")
        if subject is not None:
            _check_label(subject)
        if not prefixes:
            raise InvalidInputError("A key needs at least one namespace prefix.")
        clean = tuple(tuple(_check_template(label) for label in p) for p in prefixes)
        key = ApiKey(
            id=secrets.token_hex(6),
            name=name.strip(),
            subject=subject,
            prefixes=clean,
            permissions=_check_permissions(permissions),
            created_at=time.time(),
        )
        key.scopes  # noqa: B018  (raises for a template without a subject)
        secret = f"rk_{key.id}_{secrets.token_urlsafe(32)}"
        self._run(
            "INSERT INTO retain_api_keys(id, name, subject, prefixes, permissions, secret_hash, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.name,
                key.subject,
                json.dumps([list(p) for p in key.prefixes]),
                json.dumps(sorted(key.permissions)),
                _hash(secret),
                key.created_at,
            ),
        )
        return key, secret

    def verify(self, secret: str) -> ApiKey | None:
        """The live key whose secret this is, or ``None``."""
        parts = secret.split("_", 2) if isinstance(secret, str) else []
        if len(parts) != 3 or parts[0] != "rk":
            return None
        rows = self._run(
            f"SELECT {_COLUMNS}, secret_hash FROM retain_api_keys WHERE id = ? AND "
            "revoked_at IS NULL",
            (parts[1],),
        )
        if not rows or not hmac.compare_digest(rows[0][7], _hash(secret)):
            return None
        return _row_key(rows[0])

    def get(self, key_id: str) -> ApiKey | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM retain_api_keys WHERE id = ?", (key_id,))
        return _row_key(rows[0]) if rows else None

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Every key, oldest first (revoked ones too with ``include_revoked``)."""
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = self._run(f"SELECT {_COLUMNS} FROM retain_api_keys{where} ORDER BY created_at")
        return [_row_key(r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key at once; ``False`` if no live key has that id."""
        current = self.get(key_id)
        if current is None or current.revoked_at is not None:
            return False
        self._run(
            "UPDATE retain_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        )
        return True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            return
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"KeyStore({self._location!r})"


def _check_template(label: Any) -> str:
    _check_label(label)
    if ("{" in label or "}" in label) and label != SUBJECT:
        expand_prefix((label,), "x")  # names the bad template
    return str(label)


def open_key_store(store: Any) -> KeyStore:
    """The API keys kept in ``store``'s database (a retain ``SQLiteStore`` file or
    ``PostgresStore`` database); the table is created by the store's migrations."""
    url = getattr(store, "conn_string", None)
    if isinstance(url, str):
        import psycopg
        from psycopg_pool import ConnectionPool

        from retain.stores.pg_driver import redact
        from retain.stores.pg_schema import apply_pg_migrations

        try:
            with psycopg.connect(url, autocommit=True) as conn:
                apply_pg_migrations(conn)
        except psycopg.Error as e:
            raise StoreError(f"Cannot open the API keys in {redact(url)}: {e}") from e
        pool = ConnectionPool(
            url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=False, timeout=30
        )
        pool.open()
        return KeyStore(None, "%s", redact(url), pool=pool)
    path = getattr(store, "path", None)
    if isinstance(path, str) and path != ":memory:":
        from retain.stores.migrations import apply_sqlite_migrations

        try:
            lite = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            lite.execute("PRAGMA busy_timeout=30000")
            apply_sqlite_migrations(lite)
        except sqlite3.Error as e:
            raise StoreError(f"Cannot open the API keys in {path}: {e}") from e
        return KeyStore(lite, "?", path)
    raise ConfigurationError(
        f"{type(store).__name__} keeps no database for API keys; use a retain SQLiteStore "
        "file or a PostgresStore."
    )
