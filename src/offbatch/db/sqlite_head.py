"""The embedded SQLite database's schema at head, made or recognised without Alembic.

The migrations (``migrations/versions``) stay the one source of truth. ``sqlite_head.json`` is
what they leave in a new SQLite database: every statement of ``sqlite_master``, in order, and
the revision, dumped by this module (``python -m offbatch.db.sqlite_head``) from a database
migrated by Alembic; a test migrates one again and compares, so the file cannot drift. It also
names the migration files it was dumped after: when the versions folder holds others, Alembic
runs as before.

Why: the embedded database is migrated on first use, and every command checked it through
Alembic. Importing Alembic (and Mako) and running the migrations cost a new home's first command
~0.2 s of CPU and every later command the import, on a ~1 s small job.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

HEAD_FILE = Path(__file__).with_name("sqlite_head.json")
VERSIONS_DIR = Path(__file__).with_name("migrations") / "versions"


def migration_files() -> list[str]:
    return sorted(p.name for p in VERSIONS_DIR.glob("*.py"))


@cache
def head() -> dict[str, Any]:
    return json.loads(HEAD_FILE.read_text())


def dump(conn: sqlite3.Connection) -> dict[str, Any]:
    """The schema of a migrated database: its ``sqlite_master`` statements and revision."""
    rows = conn.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return {"revision": revision, "migrations": migration_files(), "statements": [sql for (sql,) in rows]}


def bring_to_head(conn: sqlite3.Connection) -> bool:
    """Make a new (empty) database's schema at head, or recognise one already at head: True.

    False when the database needs Alembic: an older revision, or a versions folder that differs
    from the one the head file was dumped after. One ``BEGIN IMMEDIATE`` transaction, so two
    commands opening the same new database create it once.
    """
    schema = head()
    if schema["migrations"] != migration_files():
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            for statement in schema["statements"]:
                conn.execute(statement)
            conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (schema["revision"],))
            conn.execute("COMMIT")
            return True
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if "alembic_version" not in tables:
        return False
    current = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return current == [(schema["revision"],)]


def main() -> int:
    """Migrate a new database with Alembic and write its dump to ``sqlite_head.json``."""
    from offbatch.db.session import Database

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "head.db"
        database = Database(f"sqlite:///{path}", auto_migrate=False)
        database.upgrade()
        database.dispose()
        with sqlite3.connect(path) as conn:
            schema = dump(conn)
    HEAD_FILE.write_text(json.dumps(schema, indent=1) + "\n")
    print(f"wrote {HEAD_FILE} (revision {schema['revision']}, {len(schema['statements'])} statements)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
