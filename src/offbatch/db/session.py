"""Database engine and sessions, and schema migration (Alembic) on demand.

The embedded SQLite database is migrated automatically on first use; any other database must be
migrated explicitly with ``offbatch db upgrade`` (a schema change in production is a decision).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from offbatch.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Database:
    """An engine plus a session factory for one database URL."""

    def __init__(self, url: str, *, auto_migrate: bool | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(
                url,
                connect_args={"timeout": 30} if self.is_sqlite else {},
                pool_pre_ping=not self.is_sqlite,
            )
        except (SQLAlchemyError, ModuleNotFoundError, ValueError) as e:
            raise ConfigError(f"invalid OFFBATCH_DATABASE_URL: {e}") from e
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if auto_migrate if auto_migrate is not None else self.is_sqlite:
            self.upgrade()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        from alembic import command

        command.upgrade(self._alembic_config(), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def check_schema(self) -> None:
        if "jobs" not in inspect(self.engine).get_table_names():
            raise ConfigError(
                f"the database {self.engine.url.render_as_string(hide_password=True)} has no offbatch schema",
                hint="run: offbatch db upgrade",
            )

    def _alembic_config(self):  # noqa: ANN202 - alembic type
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API types
    cursor = dbapi_connection.cursor()
    # WAL lets `offbatch status` read while a launcher or importer writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
