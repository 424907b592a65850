"""The schema as SQLAlchemy Core tables: jobs, imports, predictions, insights, notifications,
product updates. ``models.py`` maps its ORM classes onto these.

Why Core here and the ORM there: a launch submits its job with a handful of Core statements
(``launcher.py``), so it does not wait for the ORM's import and mappers (~70 ms of CPU, on the
critical path of a ~1 s job, docs/performance.md); commands that read and update rows use the
models. The migrations (``migrations/versions``) stay the source of the database's schema;
Alembic compares them with this metadata.

Predictions and insights follow Robotoff's Prediction and ProductInsight. The unique keys carry
the import rules: one prediction per (job, barcode, type, value_tag) makes re-imports and
resumed imports idempotent; one *open* (unannotated) insight per (barcode, type, value_tag).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
Time = DateTime(timezone=True)

metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A time read back from a ``Time`` column, with its zone: SQLite returns the stored UTC
    times without one (PostgreSQL returns them aware, unchanged here)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _created_at() -> Column:
    return Column("created_at", Time, nullable=False, default=utcnow)


def _updated_at() -> Column:
    return Column("updated_at", Time, nullable=False, default=utcnow, onupdate=utcnow)


jobs = Table(
    "jobs", metadata,
    Column("id", String(63), primary_key=True),
    Column("job_type", String(100), nullable=False, index=True),
    Column("backend", String(50), nullable=False),
    Column("backend_ref", String(500), nullable=False),
    Column("state", String(40), nullable=False, index=True),
    Column("reason", Text),
    Column("storage_url", String(1000), nullable=False),
    Column("task_count", Integer, nullable=False),
    Column("rows_selected", Integer, nullable=False),
    Column("engine", String(50), nullable=False),
    Column("config", JSON, nullable=False),
    Column("cost_estimate_usd", Float),
    Column("cost_actual_usd", Float),
    # Tasks by state at the last refresh ({"SUCCEEDED": 3, "RUNNING": 1}), for listings that
    # must not ask the backend about every finished job.
    Column("task_counts", JSON),
    _created_at(),
    _updated_at(),
    Column("finished_at", Time),
)

# The import of one job's output: at most one per job, whatever the deliveries.
imports = Table(
    "imports", metadata,
    _id(),
    Column("job_id", ForeignKey("jobs.id"), nullable=False, unique=True),
    Column("state", String(20), nullable=False, index=True),  # offbatch.imports.queue.ImportState
    Column("deliveries", Integer, nullable=False, default=1),
    # Parts fully imported so far (resume point), and counts.
    Column("parts_done", Integer, nullable=False, default=0),
    Column("parts_total", Integer, nullable=False, default=0),
    Column("rows_done", Integer, nullable=False, default=0),
    # Rows read but not stored: duplicates of an earlier row of the same job, or invalid keys.
    Column("rows_skipped", Integer, nullable=False, default=0, server_default="0"),
    Column("predictions_created", Integer, nullable=False, default=0),
    Column("insights_created", Integer, nullable=False, default=0),
    Column("insights_updated", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("claimed_by", String(200)),
    Column("claimed_at", Time),
    _created_at(),
    _updated_at(),
    Column("finished_at", Time),
)

predictions = Table(
    "predictions", metadata,
    _id(),
    Column("job_id", ForeignKey("jobs.id"), index=True),
    Column("barcode", String(100), nullable=False, index=True),
    Column("type", String(100), nullable=False),
    Column("value_tag", String(100)),
    Column("data", JSON, nullable=False),
    Column("predictor", String(100), nullable=False),
    Column("predictor_version", String(200), nullable=False, index=True),
    _created_at(),
    UniqueConstraint("job_id", "barcode", "type", "value_tag", name="uq_predictions_job_product"),
)

insights = Table(
    "insights", metadata,
    _id(),
    Column("barcode", String(100), nullable=False, index=True),
    Column("type", String(100), nullable=False, index=True),
    Column("value_tag", String(100)),
    Column("data", JSON, nullable=False),
    Column("predictor", String(100), nullable=False),
    Column("predictor_version", String(200), nullable=False),
    Column("prediction_id", ForeignKey("predictions.id")),
    Column("job_id", ForeignKey("jobs.id")),
    # Robotoff's convention: 1 accepted, 0 refused, -1 skipped; NULL = open.
    Column("annotation", Integer),
    Column("annotated_at", Time),
    Column("annotated_by", String(200)),
    _created_at(),
    _updated_at(),
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

# One state change of a job (``event``) sent to the notification URL: the row is the claim, so
# of two processes tracking the job only the one that inserts it sends.
notifications = Table(
    "notifications", metadata,
    _id(),
    Column("job_id", ForeignKey("jobs.id"), nullable=False),
    Column("event", String(40), nullable=False),  # job.running, job.succeeded, import.failed, ...
    Column("state", String(20), nullable=False),  # sending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("claimed_by", String(200)),
    _created_at(),
    Column("sent_at", Time),
    UniqueConstraint("job_id", "event", name="uq_notifications_job_event"),
)

# An accepted correction to apply to the product (a pluggable sink records these).
product_updates = Table(
    "product_updates", metadata,
    _id(),
    Column("insight_id", ForeignKey("insights.id"), nullable=False, index=True),
    Column("barcode", String(100), nullable=False),
    Column("field", String(100), nullable=False),
    Column("value", Text, nullable=False),
    Column("applied", Boolean, nullable=False, default=False),
    _created_at(),
)
