"""Reviewing insights: list, get, annotate; accepted corrections go to a product-update sink.

Annotation is a single conditional UPDATE (``... WHERE annotation IS NULL``), so two reviewers
racing on one insight get one success and one ConflictError. Accepting (or editing) records the
correction to apply through a ``ProductUpdateSink`` in the same transaction; the default sink
stores a ``product_updates`` row for a later job to apply to Open Food Facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Connection, func, insert, select, update

from offbatch.db.models import Insight, ProductUpdate
from offbatch.db.session import Database
from offbatch.errors import ConfigError, ConflictError, NotFoundError

# Which product field an accepted insight of a prediction type corrects, from its value_tag.
PRODUCT_FIELDS = {"ingredient_spellcheck": lambda lang: f"ingredients_text_{lang}"}
MAX_CORRECTION_CHARS = 100_000


class Annotation(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    EDIT = "edit"


# Robotoff's codes: 1 accepted, 0 refused.
ANNOTATION_CODES = {Annotation.ACCEPT: 1, Annotation.EDIT: 1, Annotation.REJECT: 0}


@dataclass(frozen=True)
class InsightFilter:
    type: str | None = None
    value_tag: str | None = None
    barcode: str | None = None
    annotated: bool | None = None
    job_id: str | None = None


class ProductUpdateSink(Protocol):
    def record(self, conn: Connection, *, insight: Insight, field: str, value: str) -> None:
        """Record an accepted correction; runs inside the annotation's transaction."""


class DatabaseSink:
    """Stores accepted corrections in ``product_updates`` (applied=False)."""

    def record(self, conn: Connection, *, insight: Insight, field: str, value: str) -> None:
        conn.execute(
            insert(ProductUpdate).values(
                insight_id=insight.id, barcode=insight.barcode, field=field, value=value,
                applied=False, created_at=datetime.now(UTC),
            )
        )


def _filtered(query, f: InsightFilter):
    if f.type:
        query = query.where(Insight.type == f.type)
    if f.value_tag:
        query = query.where(Insight.value_tag == f.value_tag)
    if f.barcode:
        query = query.where(Insight.barcode == f.barcode)
    if f.annotated is not None:
        query = query.where(Insight.annotation.is_not(None) if f.annotated else Insight.annotation.is_(None))
    if f.job_id:
        query = query.where(Insight.job_id == f.job_id)
    return query


def list_insights(db: Database, f: InsightFilter, *, limit: int = 50, offset: int = 0) -> tuple[int, list[Insight]]:
    """The total matching ``f`` and one page of insights, newest first."""
    with db.session() as s:
        total = s.scalar(_filtered(select(func.count()).select_from(Insight), f))
        page = s.scalars(_filtered(select(Insight), f).order_by(Insight.id.desc()).limit(limit).offset(offset))
        return int(total or 0), list(page)


def get_insight(db: Database, insight_id: int) -> Insight:
    with db.session() as s:
        insight = s.get(Insight, insight_id)
        if insight is None:
            raise NotFoundError(f"no insight {insight_id}")
        return insight


def annotate(
    db: Database,
    insight_id: int,
    *,
    annotation: Annotation,
    correction: str | None = None,
    username: str | None = None,
    sink: ProductUpdateSink | None = None,
) -> Insight:
    """Annotate an open insight once; ConflictError if it is already annotated."""
    if annotation == Annotation.EDIT and not correction:
        raise ConfigError("an edit needs the corrected text in 'correction'")
    if annotation != Annotation.EDIT and correction is not None:
        raise ConfigError("'correction' is only for annotation 'edit'")
    sink = sink or DatabaseSink()
    insight = get_insight(db, insight_id)
    data = dict(insight.data)
    if annotation == Annotation.EDIT:
        data["annotated_correction"] = correction
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        done = conn.execute(
            update(Insight)
            .where(Insight.id == insight_id, Insight.annotation.is_(None))
            .values(annotation=ANNOTATION_CODES[annotation], annotated_at=now, annotated_by=username,
                    data=data, updated_at=now)
        )
        if done.rowcount != 1:
            raise ConflictError(f"insight {insight_id} is already annotated")
        if annotation != Annotation.REJECT:
            value = correction if annotation == Annotation.EDIT else insight.data.get("correction")
            field = PRODUCT_FIELDS.get(insight.type)
            if field is not None and value is not None and insight.value_tag:
                sink.record(conn, insight=insight, field=field(insight.value_tag), value=value)
    return get_insight(db, insight_id)
