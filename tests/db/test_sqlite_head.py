"""A new embedded database is made at head without Alembic, exactly as the migrations make it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from offbatch.db import sqlite_head
from offbatch.db.session import Database


def _migrated_by_alembic(path: Path, revision: str = "head") -> None:
    database = Database(f"sqlite:///{path}", auto_migrate=False)
    database.upgrade(revision)
    database.dispose()


def _schema(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        return sqlite_head.dump(conn)


def test_the_head_file_is_what_the_migrations_make(tmp_path):
    _migrated_by_alembic(tmp_path / "alembic.db")
    assert _schema(tmp_path / "alembic.db") == sqlite_head.head(), (
        "src/offbatch/db/sqlite_head.json is stale: regenerate it with: python -m offbatch.db.sqlite_head"
    )


def test_a_new_database_gets_the_migrated_schema_without_importing_alembic(tmp_path):
    _migrated_by_alembic(tmp_path / "alembic.db")
    program = textwrap.dedent(
        """
        import json, sys
        from offbatch.db.session import Database
        Database(sys.argv[1]).dispose()  # new: created
        Database(sys.argv[1]).dispose()  # at head: recognised
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako"))))
        """
    )
    done = subprocess.run([sys.executable, "-c", program, f"sqlite:///{tmp_path / 'new.db'}"],
                          capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout) == []
    assert _schema(tmp_path / "new.db") == _schema(tmp_path / "alembic.db")


def test_an_older_database_is_migrated_by_alembic(tmp_path):
    _migrated_by_alembic(tmp_path / "old.db", "0002")
    assert _schema(tmp_path / "old.db")["revision"] == "0002"
    Database(f"sqlite:///{tmp_path / 'old.db'}").dispose()
    _migrated_by_alembic(tmp_path / "alembic.db")
    assert _schema(tmp_path / "old.db") == _schema(tmp_path / "alembic.db")


def test_a_migration_the_head_file_does_not_know_sends_the_database_to_alembic(tmp_path, monkeypatch):
    # A new migration file added without regenerating the head file: Alembic migrates, as before.
    monkeypatch.setattr(sqlite_head, "migration_files", lambda: [*sqlite_head.head()["migrations"], "0099_new.py"])
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert sqlite_head.bring_to_head(conn) is False
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
