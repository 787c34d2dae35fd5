"""Error messages read as sentences, whatever text a driver hands them."""

from __future__ import annotations

import pytest

from retain.errors import StoreUnavailableError


def test_store_unavailable_text_has_no_stray_full_stop() -> None:
    pytest.importorskip("psycopg")
    from retain.stores import PostgresStore

    # port 1: nothing listens, so the connection is refused at once (no server needed)
    with pytest.raises(StoreUnavailableError) as info:
        PostgresStore("postgresql://app:secret@127.0.0.1:1/memories")
    message = str(info.value)
    assert "connections?" in message  # psycopg's own question...
    assert "?." not in message  # ...is not followed by a second full stop
    assert "secret" not in message


def test_store_unavailable_keeps_other_text_unchanged() -> None:
    text = "Cannot connect: refused. Check the URL (postgresql://u:***@h:5432/db)."
    assert str(StoreUnavailableError(text)) == text
    assert str(StoreUnavailableError("Is it running?. Check it.")) == "Is it running? Check it."
