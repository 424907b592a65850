"""What every command needs: settings and the database, built once per command.

Imported by every command module, so it imports nothing heavy itself: SQLAlchemy and
pydantic-settings load when a command first asks for them (``launch`` starts its supervisor
before, so the two overlap).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offbatch.db.session import Database
    from offbatch.settings import Settings


@cache
def settings() -> Settings:
    from offbatch.settings import load_settings

    return load_settings()


@cache
def database() -> Database:
    from offbatch.db.session import Database
    from offbatch.settings import ensure_directory

    s = settings()
    if not s.database_url:
        # The embedded database lives in OFFBATCH_HOME: say so if that folder is unusable.
        ensure_directory(s.home_dir, what="OFFBATCH_HOME")
    return Database(s.db_url)
