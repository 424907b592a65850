"""ORM classes over the Core tables of ``tables.py``: Job, ImportRun, Prediction, Insight,
Notification, ProductUpdate. Columns, keys and indexes are defined there, once; the annotations
here type the attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from offbatch.db import tables
from offbatch.db.tables import NAMING, utcnow

__all__ = ["NAMING", "Base", "ImportRun", "Insight", "Job", "Notification", "Prediction", "ProductUpdate", "utcnow"]


class Base(DeclarativeBase):
    metadata = tables.metadata


class Job(Base):
    __table__ = tables.jobs
    __tablename__ = __table__.name

    id: Mapped[str]
    job_type: Mapped[str]
    backend: Mapped[str]
    backend_ref: Mapped[str]
    state: Mapped[str]
    reason: Mapped[str | None]
    storage_url: Mapped[str]
    task_count: Mapped[int]
    rows_selected: Mapped[int]
    engine: Mapped[str]
    config: Mapped[dict[str, Any]]
    cost_estimate_usd: Mapped[float | None]
    cost_actual_usd: Mapped[float | None]
    task_counts: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ImportRun(Base):
    """The import of one job's output: at most one per job, whatever the deliveries."""

    __table__ = tables.imports
    __tablename__ = __table__.name

    id: Mapped[int]
    job_id: Mapped[str]
    state: Mapped[str]
    deliveries: Mapped[int]
    parts_done: Mapped[int]
    parts_total: Mapped[int]
    rows_done: Mapped[int]
    rows_skipped: Mapped[int]
    predictions_created: Mapped[int]
    insights_created: Mapped[int]
    insights_updated: Mapped[int]
    error: Mapped[str | None]
    claimed_by: Mapped[str | None]
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Prediction(Base):
    __table__ = tables.predictions
    __tablename__ = __table__.name

    id: Mapped[int]
    job_id: Mapped[str | None]
    barcode: Mapped[str]
    type: Mapped[str]
    value_tag: Mapped[str | None]
    data: Mapped[dict[str, Any]]
    predictor: Mapped[str]
    predictor_version: Mapped[str]
    created_at: Mapped[datetime]


class Insight(Base):
    __table__ = tables.insights
    __tablename__ = __table__.name

    id: Mapped[int]
    barcode: Mapped[str]
    type: Mapped[str]
    value_tag: Mapped[str | None]
    data: Mapped[dict[str, Any]]
    predictor: Mapped[str]
    predictor_version: Mapped[str]
    prediction_id: Mapped[int | None]
    job_id: Mapped[str | None]
    annotation: Mapped[int | None]
    annotated_at: Mapped[datetime | None]
    annotated_by: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Notification(Base):
    """One state change of a job sent to the notification URL (see ``tables.notifications``)."""

    __table__ = tables.notifications
    __tablename__ = __table__.name

    id: Mapped[int]
    job_id: Mapped[str]
    event: Mapped[str]
    state: Mapped[str]
    attempts: Mapped[int]
    last_error: Mapped[str | None]
    claimed_by: Mapped[str | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ProductUpdate(Base):
    """An accepted correction to apply to the product (a pluggable sink records these)."""

    __table__ = tables.product_updates
    __tablename__ = __table__.name

    id: Mapped[int]
    insight_id: Mapped[int]
    barcode: Mapped[str]
    field: Mapped[str]
    value: Mapped[str]
    applied: Mapped[bool]
    created_at: Mapped[datetime]
