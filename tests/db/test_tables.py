"""The Core tables (what a launch writes with, and what the ORM classes map) against the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData

from offbatch.db import models, tables
from offbatch.db.session import Database


def _differences(tmp_path, metadata) -> list:
    db = Database(f"sqlite:///{tmp_path / 'migrated.db'}", auto_migrate=False)
    db.upgrade()
    try:
        with db.engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        db.dispose()


def test_the_tables_are_what_the_migrations_make(tmp_path):
    assert _differences(tmp_path, tables.metadata) == []


def test_a_column_the_migrations_lack_is_a_difference(tmp_path):
    # The comparison above can fail: a table with one column more than the migrations make.
    metadata = MetaData()
    tables.jobs.to_metadata(metadata).append_column(Column("not_migrated", Integer))
    added = [d for d in _differences(tmp_path, metadata) if isinstance(d, tuple) and d[0] == "add_column"]
    assert [(d[2], d[3].name) for d in added] == [("jobs", "not_migrated")]


def test_the_models_map_the_tables():
    assert models.Base.metadata is tables.metadata
    assert models.Job.__table__ is tables.jobs and models.Prediction.__table__ is tables.predictions
