"""Bulk writes of predictions, the fastest way each database offers (see docs/performance.md).

Both paths return the rows actually inserted, as ``(id, barcode, value_tag)``; a row whose
(job, barcode, type, value_tag) already exists is skipped, not an error.

- SQLite: one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` executed over the chunk
  (SQLAlchemy batches it into multi-row statements).
- PostgreSQL: ids are drawn from the sequence in one round trip and the rows go in with
  ``COPY`` under a savepoint; if the chunk collides with an existing row (duplicate barcodes in
  one output), the savepoint is rolled back and the chunk goes through a temporary table and
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` instead.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite

from offbatch.db.models import Prediction

COLUMNS = ("job_id", "barcode", "type", "value_tag", "data", "predictor", "predictor_version", "created_at")

Inserted = tuple[int, str, str | None]


def insert_predictions(conn: Connection, rows: list[dict[str, Any]]) -> list[Inserted]:
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        return _insert_postgresql(conn, rows)
    return _insert_sqlite(conn, rows)


def _insert_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> list[Inserted]:
    t = Prediction.__table__
    stmt = sqlite.insert(t).on_conflict_do_nothing().returning(t.c.id, t.c.barcode, t.c.value_tag)
    return [tuple(r) for r in conn.execute(stmt, rows)]


def _copy_rows(rows: list[dict[str, Any]], ids: list[int] | None):  # noqa: ANN202 - generator
    for i, r in enumerate(rows):
        values = tuple(json.dumps(r[c]) if c == "data" else r[c] for c in COLUMNS)
        yield values if ids is None else (ids[i], *values)


def _insert_postgresql(conn: Connection, rows: list[dict[str, Any]]) -> list[Inserted]:
    import psycopg

    raw = conn.connection.driver_connection
    cols = ", ".join(COLUMNS)
    with raw.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('predictions', 'id')) FROM generate_series(1, %s)",
            (len(rows),),
        )
        ids = [r[0] for r in cur.fetchall()]
        try:
            with raw.transaction():  # a savepoint inside the chunk's transaction
                with cur.copy(f"COPY predictions (id, {cols}) FROM STDIN") as copy:
                    for values in _copy_rows(rows, ids):
                        copy.write_row(values)
            return [(ids[i], r["barcode"], r["value_tag"]) for i, r in enumerate(rows)]
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS offbatch_stage_predictions "
            "(LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.execute("DELETE FROM offbatch_stage_predictions")
        with cur.copy(f"COPY offbatch_stage_predictions ({cols}) FROM STDIN") as copy:
            for values in _copy_rows(rows, None):
                copy.write_row(values)
        # ORDER BY keeps the output's order, so the first of two duplicates wins.
        cur.execute(
            f"INSERT INTO predictions ({cols}) SELECT {cols} FROM offbatch_stage_predictions "
            "ORDER BY id ON CONFLICT DO NOTHING RETURNING id, barcode, value_tag"
        )
        return [tuple(r) for r in cur.fetchall()]
