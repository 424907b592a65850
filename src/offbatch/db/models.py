"""Tables: jobs, imports, predictions, insights, product updates.

Predictions and insights follow Robotoff's Prediction and ProductInsight. The unique keys carry
the import rules: one prediction per (job, barcode, type, value_tag) makes re-imports and
resumed imports idempotent; one *open* (unannotated) insight per (barcode, type, value_tag).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    job_type: Mapped[str] = mapped_column(String(100), index=True)
    backend: Mapped[str] = mapped_column(String(50))
    backend_ref: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    storage_url: Mapped[str] = mapped_column(String(1000))
    task_count: Mapped[int] = mapped_column(Integer)
    rows_selected: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    cost_estimate_usd: Mapped[float | None] = mapped_column(Float)
    cost_actual_usd: Mapped[float | None] = mapped_column(Float)
    # Tasks by state at the last refresh ({"SUCCEEDED": 3, "RUNNING": 1}), for listings that
    # must not ask the backend about every finished job.
    task_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class ImportRun(Base):
    """The import of one job's output: at most one per job, whatever the deliveries."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)  # offbatch.imports.queue.ImportState
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    # Parts fully imported so far (resume point), and counts.
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    parts_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # Rows read but not stored: duplicates of an earlier row of the same job, or invalid keys.
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    predictions_created: Mapped[int] = mapped_column(Integer, default=0)
    insights_created: Mapped[int] = mapped_column(Integer, default=0)
    insights_updated: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("job_id", "barcode", "type", "value_tag", name="uq_predictions_job_product"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    barcode: Mapped[str] = mapped_column(String(100), index=True)
    type: Mapped[str] = mapped_column(String(100))
    value_tag: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    predictor: Mapped[str] = mapped_column(String(100))
    predictor_version: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Insight(Base):
    __tablename__ = "insights"
    __table_args__ = (
        # One open insight per product, type and language.
        Index(
            "uq_insights_open",
            "barcode",
            "type",
            "value_tag",
            unique=True,
            sqlite_where=text("annotation IS NULL"),
            postgresql_where=text("annotation IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    barcode: Mapped[str] = mapped_column(String(100), index=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    value_tag: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    predictor: Mapped[str] = mapped_column(String(100))
    predictor_version: Mapped[str] = mapped_column(String(200))
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"))
    # Robotoff's convention: 1 accepted, 0 refused, -1 skipped; NULL = open.
    annotation: Mapped[int | None] = mapped_column(Integer)
    annotated_at: Mapped[datetime | None]
    annotated_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Notification(Base):
    """One state change of a job (``event``) sent to the notification URL: the row is the claim,
    so of two processes tracking the job only the one that inserts it sends."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("job_id", "event", name="uq_notifications_job_event"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    event: Mapped[str] = mapped_column(String(40))  # job.running, job.succeeded, import.failed, ...
    state: Mapped[str] = mapped_column(String(20))  # sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ProductUpdate(Base):
    """An accepted correction to apply to the product (a pluggable sink records these)."""

    __tablename__ = "product_updates"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    insight_id: Mapped[int] = mapped_column(ForeignKey("insights.id"), index=True)
    barcode: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
