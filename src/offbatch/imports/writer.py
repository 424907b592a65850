"""Bulk writes of predictions, the fastest way each database offers (see docs/performance.md).

A row whose (job, barcode, type, value_tag) already exists is skipped, not an error.

- SQLite (``insert_predictions``): one ``INSERT ... SELECT ... FROM json_each(?) ON CONFLICT DO
  NOTHING`` of the chunk as a JSON array built column by column (``json_payload``); the chunk
  holds the write lock from its insert, so its new rows took the last ids in order: when every
  row went in, their ids follow from the count and the maximum id; otherwise the new rows are
  read back by id. Both feed ``insights.derive_insights``.
- PostgreSQL (``copy_predictions``): ``COPY`` under a savepoint of a payload built column by
  column (``copy_payload``: Arrow compute, no Python object per row); nothing comes back per
  row, the insights are derived in SQL from the stored rows (``insights.derive_insights_sql``).
  If the chunk collides with an existing row, the savepoint is rolled back and the chunk goes
  through a temporary table and ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy.exc
from sqlalchemy import Connection

from offbatch.jobs import json_columns

COLUMNS = ("job_id", "barcode", "type", "value_tag", "data", "predictor", "predictor_version", "created_at")

Key = tuple[str, str | None]  # (barcode, value_tag): unique in a job's predictions of one type


@dataclass(frozen=True)
class Copied:
    """What ``copy_predictions`` inserted: ``count`` rows, those of ``keys`` (None: every row)."""

    count: int
    keys: frozenset[Key] | None

    def inserted(self, key: Key) -> bool:
        return self.keys is None or key in self.keys


@functools.cache
def integrity_errors(dialect: str) -> tuple[type[Exception], ...]:
    """What a unique violation raises on ``dialect``, through SQLAlchemy or straight from a driver.

    psycopg is imported only for PostgreSQL (where it is loaded already): importing it costs
    every SQLite command ~50 ms.
    """
    errors: list[type[Exception]] = [sqlalchemy.exc.IntegrityError, sqlite3.IntegrityError]
    if dialect == "postgresql":
        import psycopg

        errors.append(psycopg.IntegrityError)
    return tuple(errors)


def json_payload(columns: pa.RecordBatch) -> memoryview:
    """SQLite: the predictions in ``columns`` (``jobs.PREDICTION_COLUMNS``) as one JSON array of
    ``[barcode, value_tag, data, predictor, predictor_version]`` rows, built column by column;
    a view of one buffer, for ``insert_predictions``."""
    if not columns.num_rows:
        return memoryview(b"[]")
    text = json_columns.text
    rows = pc.binary_join_element_wise(
        _OPEN, text(columns.column("barcode")), _COMMA, text(columns.column("value_tag")), _COMMA,
        columns.column("data"), _COMMA, text(columns.column("predictor")), _COMMA,
        text(columns.column("predictor_version")), _CLOSE, _EMPTY,
    )
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(rows)], pa.int32()), rows), _COMMA)
    return _characters(pc.binary_join_element_wise(_OPEN, joined, _CLOSE, _EMPTY))


def _characters(strings: pa.Array) -> memoryview:
    """The characters of a string array's values end to end: a view of its buffer, no copy."""
    _validity, offsets, characters = strings.buffers()
    offsets = memoryview(offsets).cast("i")  # int32: a string array (not large_string)
    return memoryview(characters)[offsets[strings.offset]:offsets[strings.offset + len(strings)]]


def insert_predictions(
    conn: Connection, payload: memoryview, keys: list[Key], *, job_id: str, prediction_type: str, created_at: str
) -> list[int | None]:
    """SQLite: insert the predictions of ``payload`` (``json_payload``), whose (barcode,
    value_tag) are ``keys`` in order, with ``created_at`` from ``timestamp``; return each one's
    new id, in order, None for one skipped as already there.

    One statement for the chunk: SQLite reads the rows from the JSON array itself, so no Python
    object is made per row and the driver holds no GIL while the rows go in (the next chunk is
    prepared meanwhile, see importer._prefetch); ``executemany`` took the GIL back at every row.
    """
    if not keys:
        return []
    return _insert_sqlite(conn, payload, keys, job_id=job_id, prediction_type=prediction_type, created_at=created_at)


def timestamp(dialect: str, value: datetime) -> Any:
    """A timestamp as the driver takes it (SQLAlchemy's SQLite format: naive UTC text)."""
    if dialect == "sqlite":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def bulk_insert(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert ready values (JSON as text, see ``timestamp``) with the driver's executemany.

    Used by SQLite's Python insight path (PostgreSQL derives insights in one SQL statement).
    It skips SQLAlchemy's per-row type processing, the largest cost of a bulk write; values stay
    bound parameters, and the table and column names are ours. A unique violation raises the
    driver's IntegrityError (see ``integrity_errors``).
    """
    cursor = conn.connection.driver_connection.cursor()
    try:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def bulk_update(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], *, where: str
) -> int:
    """Set ``columns`` of rows by id with the driver's executemany, as ``bulk_insert`` inserts:
    each of ``rows`` holds the new values in ``columns`` order, then the id; ``where`` (our own
    SQL, no values) must hold too. Returns the number of rows updated."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        assignments = ", ".join(f"{c} = ?" for c in columns)
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = ? AND {where}", rows)
        return cursor.rowcount
    finally:
        cursor.close()


# ``->>`` gives a JSON value as SQL (null as NULL), ``->`` the data object as JSON text. The
# WHERE clause resolves SQLite's parsing ambiguity between a join's ON and the upsert's ON
# CONFLICT. No ORDER BY: SQLite inserts the rows as json_each yields them, in the array's order
# (an ORDER BY j.key sorted the 5,000 rows again, a third of the statement); the ids below are
# checked against that order.
_INSERT_JSON = (
    f"INSERT INTO predictions ({', '.join(COLUMNS)}) "
    "SELECT ?, j.value ->> 0, ?, j.value ->> 1, j.value -> 2, j.value ->> 3, j.value ->> 4, ? "
    "FROM json_each(CAST(? AS TEXT)) AS j WHERE true ON CONFLICT DO NOTHING"
)


def _insert_sqlite(
    conn: Connection, payload: memoryview, keys: list[Key], *, job_id: str, prediction_type: str, created_at: str
) -> list[int | None]:
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(_INSERT_JSON, (job_id, prediction_type, created_at, payload))
        inserted = cursor.rowcount
        # The insert took the database's write lock, held until the chunk commits: no other
        # writer can add rows meanwhile. Every row went in (no conflict), in order, each with the
        # next rowid: the chunk's ids are the last ``inserted`` ones, no need to read 5,000 rows
        # back (a visible part of the import).
        (last,) = cursor.execute("SELECT coalesce(max(id), 0) FROM predictions").fetchone()
        if inserted == len(keys) and _keys_of(cursor, (last - inserted + 1, last)) == [keys[0], keys[-1]]:
            return list(range(last - inserted + 1, last + 1))
        # Some rows were already there: read back which went in (the ids above last - inserted
        # are this chunk's, for the same reason).
        ids: dict[Key, int | None] = dict.fromkeys(keys, None)
        for id_, barcode, value_tag in cursor.execute(
            "SELECT id, barcode, value_tag FROM predictions WHERE job_id = ? AND id > ?", (job_id, last - inserted),
        ):
            ids[(barcode, value_tag)] = id_
        return [ids[key] for key in keys]
    finally:
        cursor.close()


def _keys_of(cursor: Any, ids: tuple[int, int]) -> list[Key]:
    """(barcode, value_tag) of predictions ``ids``, in that order: the first and last row of a
    chunk, to check the rows went in in the payload's order."""
    found = {id_: (b, t) for id_, b, t in cursor.execute(
        "SELECT id, barcode, value_tag FROM predictions WHERE id IN (?, ?)", ids)}
    return [found.get(id_) for id_ in ids]


# COPY's text format (PostgreSQL's documentation, COPY, "Text Format"): tab between fields, a
# newline after each row, \N for NULL; a backslash, tab, newline or carriage return in a value
# is written backslash-escaped. Constants are Arrow scalars made once (see jobs.json_columns).
_TAB, _NEWLINE, _EMPTY, _COPY_NULL = (pa.scalar(v) for v in ("\t", "\n", "", "\\N"))
_OPEN, _CLOSE, _COMMA = (pa.scalar(v) for v in ("[", "]", ","))
_COPY_ESCAPES = (("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy_field(values: pa.Array) -> pa.Array:
    values = pc.replace_substring(values, "\\", "\\\\")
    if pc.any(pc.match_substring_regex(values, "[\t\n\r]")).as_py():
        for char, escaped in _COPY_ESCAPES:
            values = pc.replace_substring(values, char, escaped)
    return pc.coalesce(values, _COPY_NULL)


def _copy_constant(value: str) -> pa.Scalar:
    for char, escaped in (("\\", "\\\\"), *_COPY_ESCAPES):
        value = value.replace(char, escaped)
    return pa.scalar(value)


def copy_payload(columns: pa.RecordBatch, *, job_id: str, prediction_type: str, created_at: datetime) -> memoryview:
    """PostgreSQL: COPY text of ``COLUMNS`` for the predictions in ``columns`` (barcode,
    value_tag, data as JSON text, predictor, predictor_version: ``jobs.PREDICTION_COLUMNS``), one
    row each, built column by column; a view of one buffer, ready for ``copy_predictions``."""
    field = {name: _copy_field(columns.column(name)) for name in
             ("barcode", "value_tag", "data", "predictor", "predictor_version")}
    values = {"job_id": _copy_constant(job_id), "type": _copy_constant(prediction_type),
              "created_at": _copy_constant(created_at.astimezone(UTC).isoformat()), **field}
    pieces: list[pa.Array | pa.Scalar] = []
    for name in COLUMNS:
        pieces += [values[name], _TAB]
    pieces[-1] = _NEWLINE
    if not columns.num_rows:
        return memoryview(b"")
    return _characters(pc.binary_join_element_wise(*pieces, _EMPTY))


def copy_predictions(conn: Connection, payload: memoryview, count: int) -> Copied:
    """PostgreSQL: insert the ``count`` rows of ``payload`` (``copy_payload``), skipping those
    the job already has.

    The rows go in with one ``COPY`` under a savepoint: no ids or rows come back to Python. If the
    chunk collides with a row the job already has (duplicate barcodes across an output's chunks),
    the savepoint is rolled back and the chunk goes through a temporary table and ``INSERT ...
    SELECT ... ON CONFLICT DO NOTHING``, which reports the keys it inserted.
    """
    import psycopg

    if not count:
        return Copied(0, frozenset())
    raw = conn.connection.driver_connection
    cols = ", ".join(COLUMNS)
    with raw.cursor() as cur:
        # A savepoint in SQL, not psycopg's ``transaction()``: as the chunk's first statement,
        # that would open and commit a transaction of its own, outside the chunk's.
        cur.execute("SAVEPOINT offbatch_copy")
        try:
            with cur.copy(f"COPY predictions ({cols}) FROM STDIN") as copy:
                copy.write(payload)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT offbatch_copy")
        else:
            cur.execute("RELEASE SAVEPOINT offbatch_copy")
            return Copied(count, None)
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS offbatch_stage_predictions "
            "(LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.execute("DELETE FROM offbatch_stage_predictions")
        with cur.copy(f"COPY offbatch_stage_predictions ({cols}) FROM STDIN") as copy:
            copy.write(payload)
        # ORDER BY keeps the output's order, so the first of two duplicates wins.
        cur.execute(
            f"INSERT INTO predictions ({cols}) SELECT {cols} FROM offbatch_stage_predictions "
            "ORDER BY id ON CONFLICT DO NOTHING RETURNING barcode, value_tag"
        )
        keys = frozenset((barcode, tag) for barcode, tag in cur.fetchall())
        return Copied(len(keys), keys)
