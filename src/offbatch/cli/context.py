"""What every command needs: settings and the database, built once per command."""

from __future__ import annotations

from functools import cache

from offbatch.db.session import Database
from offbatch.settings import Settings, ensure_directory, load_settings


@cache
def settings() -> Settings:
    return load_settings()


@cache
def database() -> Database:
    s = settings()
    if not s.database_url:
        # The embedded database lives in OFFBATCH_HOME: say so if that folder is unusable.
        ensure_directory(s.home_dir, what="OFFBATCH_HOME")
    return Database(s.db_url)
