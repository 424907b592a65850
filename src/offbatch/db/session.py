"""Database engine and sessions, and schema migration (Alembic) on demand.

The embedded SQLite database is migrated automatically on first use (a new one is created at head
without Alembic: ``sqlite_head.py``); any other database must be migrated explicitly with
``offbatch db upgrade`` (a schema change in production is a decision).

This is the adapter boundary for the database's environment problems: a missing driver, a
database that cannot be reached or does not exist, and a schema that is missing become a
DatabaseError (one line and a hint) wherever they surface; any other SQL error stays a bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from offbatch.errors import ConfigError, DatabaseError
from offbatch.settings import ensure_directory

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Database:
    """An engine plus a session factory for one database URL.

    The ORM loads with the first session: a launch submits its job through the engine alone
    (Core statements on ``tables.py``) and so does not wait for it.
    """

    def __init__(self, url: str, *, auto_migrate: bool | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                ensure_directory(Path(path).parent, what="the folder of the SQLite database")
        try:
            self.engine: Engine = create_engine(
                url,
                connect_args={"timeout": 30} if self.is_sqlite else {},
                pool_pre_ping=not self.is_sqlite,
            )
        except ModuleNotFoundError as e:
            raise _missing_driver(url, e) from None
        except (SQLAlchemyError, ValueError) as e:
            raise ConfigError(f"invalid OFFBATCH_DATABASE_URL: {e}") from e
        self.safe_url = self.engine.url.render_as_string(hide_password=True)
        event.listen(self.engine, "handle_error", self._translate_error)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if auto_migrate if auto_migrate is not None else self.is_sqlite:
            self._migrate_embedded()

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        from alembic import command

        command.upgrade(self._alembic_config(), revision)

    def _migrate_embedded(self) -> None:
        """Bring the embedded database to head: a new one from the schema the migrations make,
        without Alembic (``sqlite_head.py``), an older one through Alembic."""
        if self.is_sqlite:
            from offbatch.db import sqlite_head

            connection = self.engine.raw_connection()
            try:
                at_head = sqlite_head.bring_to_head(connection.driver_connection)
            finally:
                connection.close()
            if at_head:
                return
        self.upgrade()

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def check_schema(self) -> None:
        if "jobs" not in inspect(self.engine).get_table_names():
            raise self._unmigrated()

    def _unmigrated(self) -> DatabaseError:
        return DatabaseError(f"the database {self.safe_url} has no offbatch schema", hint="run: offbatch db upgrade")

    def _translate_error(self, context: ExceptionContext) -> None:
        """handle_error hook: raise our DatabaseError for environment problems, else return
        (SQLAlchemy then raises its own exception)."""
        error = context.original_exception
        if context.connection is None and not context.is_pre_ping:
            # Failed to connect at all (a failed pre-ping is retried by the pool, not reported).
            raise DatabaseError(
                f"cannot connect to the database {self.safe_url}: {_one_line(error)}",
                hint=_connect_hint(self.engine.url.database, error),
            ) from None
        if _is_undefined_table(error):
            raise self._unmigrated() from None

    def _alembic_config(self):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets `offbatch status` read while a launcher or importer writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    # SQLite's advice for WAL: a commit is written to the WAL but not fsynced (the WAL is synced at
    # each checkpoint). The database is never corrupted and a commit survives the process dying; a
    # power loss or OS crash may roll back the last commits. FULL cost ~4 ms per commit, ~30
    # commits in a small `launch --wait` (docs/performance.md). Rails' SQLite default too.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _missing_driver(url: str, error: ModuleNotFoundError) -> DatabaseError:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = url.split(":", 1)[0]
    hint = (
        "install it: pip install 'offbatch[postgres]' (and use a postgresql+psycopg:// URL)"
        if backend == "postgresql" else f"install the Python driver for {backend}"
    )
    return DatabaseError(f"the database driver for OFFBATCH_DATABASE_URL is not installed (no module {error.name!r})",
                         hint=hint)


def _one_line(error: BaseException, *, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _connect_hint(database: str | None, error: BaseException) -> str:
    text = str(error)
    if "does not exist" in text and database:
        return f"create it (createdb {database}), then run: offbatch db upgrade"
    if "password" in text or "authentication" in text:
        return "check the user and password in OFFBATCH_DATABASE_URL"
    if "unable to open database file" in text:
        return "set OFFBATCH_HOME (or OFFBATCH_DATABASE_URL) to a writable directory"
    return "is the database server running, and are the host and port in OFFBATCH_DATABASE_URL right?"


def _is_undefined_table(error: BaseException) -> bool:
    # PostgreSQL's SQLSTATE 42P01 (psycopg), SQLite's message; drivers are not imported here.
    if getattr(error, "sqlstate", None) == "42P01":
        return True
    return type(error).__name__ == "OperationalError" and str(error).startswith("no such table")
