"""``retain demo --path P`` empties P only when an earlier demo run made it."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from retain.cli.demo import DEMO_APPLICATION_ID, is_demo_database, run_demo
from retain.errors import ConfigurationError
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel

ROOT = Path(__file__).resolve().parent.parent


def _other_apps_database(path: Path) -> bytes:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["text", "sqlite", "retain", "directory"])
def test_demo_refuses_to_delete_a_file_it_did_not_make(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "precious.db"
    if kind == "text":
        target.write_text("my thesis\n")
    elif kind == "sqlite":
        _other_apps_database(target)
    elif kind == "retain":  # the user's own memories: a retain store, not the demo's
        store = SQLiteStore(target)
        store.put(("memories", "me"), "k", {"content": "my real memory"})
        store.close()
    else:
        target.mkdir()
    before = target.read_bytes() if target.is_file() else None
    side = Path(f"{target}-wal")
    side.write_bytes(b"not ours")
    model = FakeChatModel([])
    with pytest.raises(ConfigurationError, match="not a database made by `retain demo`"):
        run_demo(model=model, path=target, out=io.StringIO(), timeout=5)
    assert model.calls == []  # refused before anything ran
    assert target.exists()
    assert side.read_bytes() == b"not ours"
    if before is not None:
        assert target.read_bytes() == before


def test_the_cli_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    out = subprocess.run(
        [sys.executable, "-m", "retain.cli", "demo", "--path", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"RETAIN_MODEL": "nosuchprovider:x", "PYTHONPATH": str(ROOT / "src")},
    )
    assert out.returncode == 1
    assert "retain: error:" in out.stderr
    assert "not a database made by `retain demo`" in out.stderr
    assert "Traceback" not in out.stderr
    assert target.read_text() == "keep me"


def test_a_demo_database_is_marked_and_may_be_emptied(tmp_path: Path) -> None:
    from retain.cli.demo import _fresh_store

    path = tmp_path / "demo.db"
    store = _fresh_store(path, keep=False)
    store.put(("memories", "may"), "old", {"content": "from the last run"})
    store.close()
    assert is_demo_database(path)
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA application_id").fetchone() == (DEMO_APPLICATION_ID,)
    conn.close()
    again = _fresh_store(path, keep=False)  # a demo database: emptied
    assert again.search(("memories",)) == []
    again.close()
    assert is_demo_database(path)  # and marked again
    assert not is_demo_database(tmp_path / "missing.db")
