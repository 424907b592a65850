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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from offbatch.db.models import Insight, Job
from offbatch.imports import writer
from offbatch.jobs import PredictionRecord


@dataclass(frozen=True)
class NewPrediction:
    id: int
    record: PredictionRecord
    data_json: str  # record.data as stored, reused for the insight


_INSERTED = ("barcode", "type", "value_tag", "data", "predictor", "predictor_version", "prediction_id", "job_id",
             "created_at", "updated_at")
# Columns a newer prediction refreshes on an open insight.
_UPDATED = ("data", "predictor", "predictor_version", "prediction_id", "job_id", "updated_at")


def _subject(data: dict[str, Any]) -> Any:
    return data.get("original", data)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes (stored as UTC).
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _existing(conn: Connection, prediction_type: str, barcodes: list[str]) -> list[tuple[Any, ...]]:
    """(id, barcode, value_tag, annotation, data, job created_at) of the insights of these products."""
    if conn.dialect.name == "postgresql":
        # Unprepared, so the array is planned as a constant (hashed lookups). psycopg prepares a
        # statement after 5 runs, and the generic plan of a prepared ANY/IN compares each row
        # with every barcode: the import went quadratic.
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(
                "SELECT i.id, i.barcode, i.value_tag, i.annotation, i.data, j.created_at FROM insights i "
                "LEFT JOIN jobs j ON j.id = i.job_id WHERE i.type = %s AND i.barcode = ANY(%s)",
                (prediction_type, barcodes),
                prepare=False,
            )
            return cursor.fetchall()
        finally:
            cursor.close()
    query = (
        select(Insight.id, Insight.barcode, Insight.value_tag, Insight.annotation, Insight.data, Job.created_at)
        .outerjoin(Job, Job.id == Insight.job_id)
        .where(Insight.type == prediction_type, Insight.barcode.in_(bindparam("barcodes", expanding=True)))
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
    """Create or update insights for ``predictions``; return (created, updated)."""
    candidates = {
        (p.record.barcode, p.record.value_tag): p
        for p in predictions
        if p.record.actionable and p.record.value_tag
    }
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
            open_rows[key] = (insight_id, _aware(created_at))
        else:
            annotated.setdefault(key, []).append(_subject(data))

    job_created_at = _aware(job_created_at)
    stamp = writer.timestamp(conn.dialect.name, now)
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    for key, p in candidates.items():
        r = p.record
        values = {
            "data": r.data, "predictor": r.predictor, "predictor_version": r.predictor_version,
            "prediction_id": p.id, "job_id": job_id, "updated_at": now,
        }
        if key in open_rows:
            insight_id, insight_job_created = open_rows[key]
            if insight_job_created is None or insight_job_created <= job_created_at:
                updates.append({"_id": insight_id, **{f"new_{k}": v for k, v in values.items()}})
        elif _subject(r.data) not in annotated.get(key, []):
            inserts.append((r.barcode, prediction_type, r.value_tag, p.data_json, r.predictor, r.predictor_version,
                            p.id, job_id, stamp, stamp))
    updated = 0
    if inserts:
        writer.bulk_insert(conn, "insights", _INSERTED, inserts)
    if updates:
        stmt = (
            update(Insight)
            .where(and_(Insight.id == bindparam("_id"), Insight.annotation.is_(None)))
            .values({k: bindparam(f"new_{k}") for k in _UPDATED})
        )
        updated = conn.execute(stmt, updates).rowcount
    return len(inserts), updated
