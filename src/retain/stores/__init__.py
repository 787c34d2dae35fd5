"""retain's stores: LangGraph ``BaseStore`` implementations with hybrid recall, history,
provenance, purge and export.

* :class:`SQLiteStore`: one file, no server; the default (:func:`default_store`).
* :class:`PostgresStore`: PostgreSQL + pgvector, sync and async (``pip install
  'retain[postgres]'``; imported on first use, so the extra stays optional).
* :func:`open_store`: a store from a URL (``sqlite:///path``, ``sqlite:///:memory:``,
  ``postgresql://...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain.core.ranking import Ranking
from retain.embeddings import DEFAULT_EMBED, MINILM_DIMS
from retain.errors import ConfigurationError
from retain.stores.base import (
    NamespaceSummary,
    RankedItem,
    RetainStore,
    Version,
    current_provenance,
    provenance,
)
from retain.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from retain.stores.postgres import PostgresStore

__all__ = [
    "DEFAULT_PATH",
    "NamespaceSummary",
    "PostgresStore",
    "RankedItem",
    "Ranking",
    "RetainStore",
    "SQLiteStore",
    "Version",
    "current_provenance",
    "default_store",
    "open_store",
    "provenance",
]

DEFAULT_PATH = ".retain/memories.db"


def default_store(path: str | Path = DEFAULT_PATH, **kwargs: Any) -> SQLiteStore:
    """The default store: ``SQLiteStore`` at ``./.retain/memories.db`` with the offline
    embedding model (``local:minilm``, 384 dims)."""
    kwargs.setdefault("index", {"embed": DEFAULT_EMBED, "dims": MINILM_DIMS})
    return SQLiteStore(path, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":  # psycopg is an optional extra: import it on first use
        from retain.stores.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'retain.stores' has no attribute {name!r}")


def open_store(url: str, **kwargs: Any) -> RetainStore:
    """A store from a URL: ``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:``, or ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``
    (:class:`PostgresStore`). Keyword arguments go to the store's constructor.

    Raises:
        ConfigurationError: an unknown scheme, ``sqlite:///`` without a path (SQLite would
            make a throwaway temporary database), a directory, or a PostgreSQL string libpq
            cannot parse. The message never repeats a password.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"A store URL is a string; got {type(url).__name__}.")
    if url.startswith("sqlite:///"):
        return SQLiteStore(url.removeprefix("sqlite:///"), **kwargs)
    if url.startswith(("postgresql://", "postgres://")):
        from retain.stores.postgres import PostgresStore

        return PostgresStore(url, **kwargs)
    scheme = url.split("://", 1)[0] if "://" in url else None  # the rest may hold a password
    raise ConfigurationError(
        f"Unknown store URL scheme {scheme!r} (the URL is not repeated: it may hold a "
        "password); use sqlite:///path.db, sqlite:///:memory: or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE."
    )
