"""retain's stores: LangGraph ``BaseStore`` implementations with hybrid recall, history,
provenance, purge and export.

* :class:`SQLiteStore`: one file, no server; the default (:func:`default_store`).
* :func:`open_store`: a store from a URL (``sqlite:///path``, ``sqlite:///:memory:``).

PostgreSQL + pgvector (``postgresql://``) is planned; see ``docs/stores.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain.embeddings import DEFAULT_EMBED, MINILM_DIMS
from retain.errors import ConfigurationError
from retain.stores.base import RetainStore, Version, current_provenance, fuse, provenance
from retain.stores.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_PATH",
    "RetainStore",
    "SQLiteStore",
    "Version",
    "current_provenance",
    "default_store",
    "fuse",
    "open_store",
    "provenance",
]

DEFAULT_PATH = ".retain/memories.db"


def default_store(path: str | Path = DEFAULT_PATH, **kwargs: Any) -> SQLiteStore:
    """The default store: ``SQLiteStore`` at ``./.retain/memories.db`` with the offline
    embedding model (``local:minilm``, 384 dims)."""
    kwargs.setdefault("index", {"embed": DEFAULT_EMBED, "dims": MINILM_DIMS})
    return SQLiteStore(path, **kwargs)


def open_store(url: str, **kwargs: Any) -> RetainStore:
    """A store from a URL: ``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:``. Keyword arguments go to the store's constructor."""
    if url.startswith("sqlite:///"):
        return SQLiteStore(url.removeprefix("sqlite:///"), **kwargs)
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError(
            "PostgreSQL stores are not available in this version of retain yet; use "
            "sqlite:///path.db."
        )
    raise ConfigurationError(
        f"Unknown store URL {url!r}; use sqlite:///path.db or sqlite:///:memory:."
    )
