"""Deriving insights from freshly imported predictions (one chunk at a time, in its transaction).

Rules, for each actionable prediction with a ``value_tag`` (the product language):

1. An *open* (unannotated) insight exists for (barcode, type, value_tag): it is updated to the
   new prediction, unless it came from a job launched after this one (an old job imported late
   never overwrites a newer suggestion).
2. No open insight, but an *annotated* one whose subject (``data["original"]``: the text that
   was corrected) equals the new prediction's: nothing. Someone already judged a correction of
   this very text; a rerun must not ask again.
3. Otherwise a new open insight is created, e.g. when the product's text changed since an
   annotated insight, or when there is no insight at all.

Annotated insights are never modified. Non-actionable predictions (no change, truncated output,
clipped text) and predictions without a value_tag never touch insights. The partial unique index
``uq_insights_open`` guarantees one open insight per key even when two imports race; the loser's
chunk fails with an IntegrityError and is retried by the importer, then sees the winner's row.

The rules are written twice, and the same tests run both: in Python for SQLite
(``derive_insights``, from the rows just inserted) and in SQL for PostgreSQL
(``derive_insights_sql``, one statement from the stored predictions), where the per-row Python
work of the first was most of the import's cost (docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, literal_column, select

from offbatch.db.models import Insight, Job
from offbatch.db.tables import as_utc
from offbatch.imports import writer


class NewPrediction(NamedTuple):
    """A prediction just inserted that may touch insights (actionable, with a value_tag)."""

    id: int
    barcode: str
    value_tag: str
    data_json: str  # its data as stored (JSON text), reused for the insight
    predictor: str
    predictor_version: str


_INSERTED = ("barcode", "type", "value_tag", "data", "predictor", "predictor_version", "prediction_id", "job_id",
             "created_at", "updated_at")
# Columns a newer prediction refreshes on an open insight.
_UPDATED = ("data", "predictor", "predictor_version", "prediction_id", "job_id", "updated_at")


def _subject(data: dict[str, Any]) -> Any:
    return data.get("original", data)


def _existing(conn: Connection, prediction_type: str, barcodes: list[str]) -> list[tuple[Any, ...]]:
    """(id, barcode, value_tag, annotation, data, job created_at) of the insights of these products.

    SQLite's planner, left free, served ``type = ?`` from ix_insights_type: every insight of the
    type read at every chunk, and the import slowed as the table grew (2.4x its floor at 1M
    rows). The unary ``+`` (SQLite's documented way) keeps the type out of index selection, so
    the lookup probes the barcode index, a few rows per barcode at any size.
    """
    query = (
        select(Insight.id, Insight.barcode, Insight.value_tag, Insight.annotation, Insight.data, Job.created_at)
        .outerjoin(Job, Job.id == Insight.job_id)
        .where(
            literal_column(f"+{Insight.__tablename__}.type") == prediction_type,
            Insight.barcode.in_(bindparam("barcodes", expanding=True)),
        )
    )
    return [tuple(row) for row in conn.execute(query, {"barcodes": barcodes})]


def derive_insights(
    conn: Connection,
    *,
    job_id: str,
    job_created_at: datetime,
    prediction_type: str,
    predictions: list[NewPrediction],
    now: datetime,
) -> tuple[int, int]:
    """SQLite: create or update insights for ``predictions`` (each actionable, with a value_tag);
    return (created, updated). The data goes in as the JSON text it was stored with; it is only
    parsed for a key with annotated insights, to compare subjects (rule 2)."""
    candidates = {(p.barcode, p.value_tag): p for p in predictions}
    if not candidates:
        return 0, 0
    barcodes = sorted({b for b, _ in candidates})
    open_rows: dict[tuple[str, str], tuple[int, datetime | None]] = {}
    annotated: dict[tuple[str, str], list[Any]] = {}
    for insight_id, barcode, value_tag, annotation, data, created_at in _existing(conn, prediction_type, barcodes):
        key = (barcode, value_tag)
        if key not in candidates:
            continue
        if annotation is None:
            open_rows[key] = (insight_id, as_utc(created_at))
        else:
            annotated.setdefault(key, []).append(_subject(data))

    job_created_at = as_utc(job_created_at)
    stamp = writer.timestamp(conn.dialect.name, now)
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for key, p in candidates.items():
        if key in open_rows:
            insight_id, insight_job_created = open_rows[key]
            if insight_job_created is None or insight_job_created <= job_created_at:
                updates.append((p.data_json, p.predictor, p.predictor_version, p.id, job_id, stamp, insight_id))
        elif key not in annotated or _subject(json.loads(p.data_json)) not in annotated[key]:
            inserts.append((p.barcode, prediction_type, p.value_tag, p.data_json, p.predictor, p.predictor_version,
                            p.id, job_id, stamp, stamp))
    updated = 0
    if inserts:
        writer.bulk_insert(conn, "insights", _INSERTED, inserts)
    if updates:
        # Rechecks the insight is still open: someone may have annotated it meanwhile.
        updated = writer.bulk_update(conn, "insights", _UPDATED, updates, where="annotation IS NULL")
    return len(inserts), updated


# derive_insights_sql. ``cand``: the chunk's new actionable predictions, each with its open insight
# (rule 1) and whether an annotated insight judged the same subject (rule 2: data->'original', else
# the whole data). Every CTE sees the snapshot taken before the statement, so ``new`` does not see
# ``upd``'s rows: a key is updated, left alone or created, never two of them.
#
# Every lookup is pinned to a probe by barcode (or by id), whatever the statistics say. Left free,
# the planner read every row of the job or of the type for each candidate: statistics never
# know the job being imported (its predictions "are" ~1 row), and a fresh database has none
# (every insight of the type "is" ~1 row); 1.4 s and then 110 ms a chunk, growing with the
# import. Hence: a LATERAL ... OFFSET 0 and scalar subqueries (kept per candidate, never turned
# into joins or hashed), the insights' ids as an array for the update, and conditions the planner
# cannot serve from an index on the job, the type or uq_insights_open's predicate: IS NOT DISTINCT
# FROM (not indexable; the same as = for these non-null values) and ``(annotation IS NULL) IS TRUE``.
# The update rechecks that the insight is still open: someone may have annotated it meanwhile.
_DERIVE_SQL = """
WITH cand AS MATERIALIZED (
    SELECT p.id, p.barcode, p.value_tag, p.data, p.predictor, p.predictor_version,
           (SELECT i.id FROM insights i
            WHERE i.barcode = p.barcode AND i.type IS NOT DISTINCT FROM %(type)s AND i.value_tag = p.value_tag
              AND i.annotation IS NULL) AS open_id,
           coalesce((SELECT true FROM insights i
                     WHERE i.barcode = p.barcode AND i.type IS NOT DISTINCT FROM %(type)s
                       AND i.value_tag IS NOT DISTINCT FROM p.value_tag AND i.annotation IS NOT NULL
                       AND coalesce(i.data::jsonb -> 'original', i.data::jsonb)
                           = coalesce(p.data::jsonb -> 'original', p.data::jsonb)
                     LIMIT 1), false) AS judged
    FROM unnest(%(barcodes)s::text[], %(value_tags)s::text[]) AS k (barcode, value_tag)
    CROSS JOIN LATERAL (
        SELECT * FROM predictions p
        WHERE p.barcode = k.barcode AND p.job_id IS NOT DISTINCT FROM %(job_id)s
          AND p.type IS NOT DISTINCT FROM %(type)s AND p.value_tag = k.value_tag
        OFFSET 0
    ) p
), upd AS (
    UPDATE insights i
    SET data = c.data, predictor = c.predictor, predictor_version = c.predictor_version,
        prediction_id = c.id, job_id = %(job_id)s, updated_at = %(now)s
    FROM cand c
    WHERE i.id = ANY (ARRAY(SELECT open_id FROM cand WHERE open_id IS NOT NULL)) AND i.id = c.open_id
      AND (i.annotation IS NULL) IS TRUE
      AND NOT EXISTS (SELECT FROM jobs j WHERE j.id = i.job_id AND j.created_at > %(job_created_at)s)
    RETURNING 1
), new AS (
    INSERT INTO insights (barcode, type, value_tag, data, predictor, predictor_version, prediction_id, job_id,
                          created_at, updated_at)
    SELECT c.barcode, %(type)s, c.value_tag, c.data, c.predictor, c.predictor_version, c.id, %(job_id)s,
           %(now)s, %(now)s
    FROM cand c
    WHERE c.open_id IS NULL AND NOT c.judged
    ORDER BY c.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM upd)
"""


def derive_insights_sql(
    conn: Connection,
    *,
    job_id: str,
    job_created_at: datetime,
    prediction_type: str,
    keys: Sequence[tuple[str, str]],
    now: datetime,
) -> tuple[int, int]:
    """PostgreSQL: create or update insights for this job's predictions ``keys`` (barcode,
    value_tag), which the caller inserted in this transaction and found actionable; return
    (created, updated). A concurrent import creating the same open insight makes it fail on
    ``uq_insights_open`` (the importer retries the chunk)."""
    if not keys:
        return 0, 0
    cursor = conn.connection.driver_connection.cursor()
    try:
        # The estimated cost of the probes passes jit_above_cost once the tables grow: compiling
        # took 17 ms of a 37 ms statement, at every chunk. For this transaction only.
        cursor.execute("SET LOCAL jit = off")
        # Unprepared: psycopg prepares a statement after 5 runs, and the generic plan of an earlier
        # lookup (barcode = ANY($1)) scanned every insight per barcode: the import went quadratic.
        # Planning this costs well under a millisecond.
        cursor.execute(
            _DERIVE_SQL,
            {
                "barcodes": [b for b, _ in keys], "value_tags": [t for _, t in keys], "job_id": job_id,
                "type": prediction_type, "now": now, "job_created_at": job_created_at,
            },
            prepare=False,
        )
        created, updated = cursor.fetchone()
    finally:
        cursor.close()
    return created, updated
