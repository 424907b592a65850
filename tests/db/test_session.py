"""The embedded database's connection settings."""

from __future__ import annotations

from sqlalchemy import text

from offbatch.db.session import Database


def test_embedded_connections_use_wal_without_a_sync_per_commit(tmp_path):
    # WAL with synchronous=NORMAL (1): readers never block on a writer, and a commit costs no fsync
    # (~4 ms each, ~30 in a small launch --wait). FULL (2) is SQLite's default: a new connection
    # that missed the pragma would read 2 here.
    db = Database(f"sqlite:///{tmp_path / 'offbatch.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()
