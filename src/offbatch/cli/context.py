"""What every command needs: settings and the database, built once per command."""

from __future__ import annotations

from functools import cache

from offbatch.db.session import Database
from offbatch.settings import Settings, load_settings


@cache
def settings() -> Settings:
    return load_settings()


@cache
def database() -> Database:
    return Database(settings().db_url)
