"""Insight routes: list with filters, get one, annotate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from offbatch import review as insights
from offbatch.api.deps import Annotator, DbDep, body_schema, read_body
from offbatch.api.errors import error_responses
from offbatch.api.schemas import (
    JOB_ID_PATTERN,
    MAX_ID,
    TAG_PATTERN,
    AnnotateRequest,
    InsightOut,
    InsightPage,
)

router = APIRouter(prefix="/api/v1/insights", tags=["insights"])

InsightId = Annotated[int, Path(ge=1, le=MAX_ID)]
Tag = Annotated[str | None, Query(pattern=TAG_PATTERN, max_length=100)]


@router.get("", response_model=InsightPage)
def list_insights(
    db: DbDep,
    type: Tag = None,
    lang: Tag = None,
    value_tag: Tag = None,
    barcode: Tag = None,
    annotated: bool | None = None,
    job_id: Annotated[str | None, Query(pattern=JOB_ID_PATTERN, max_length=63)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 25,
) -> InsightPage:
    """Insights, newest first. ``lang`` is the product language (the insight's value_tag)."""
    f = insights.InsightFilter(type=type, value_tag=value_tag or lang, barcode=barcode, annotated=annotated,
                               job_id=job_id)
    count, rows = insights.list_insights(db, f, limit=page_size, offset=(page - 1) * page_size)
    return InsightPage(count=count, page=page, page_size=page_size, insights=[InsightOut.model_validate(r) for r in rows])


@router.get("/{insight_id}", response_model=InsightOut, responses=error_responses(404))
def get_insight(insight_id: InsightId, db: DbDep) -> InsightOut:
    return InsightOut.model_validate(insights.get_insight(db, insight_id))


@router.post(
    "/{insight_id}/annotate",
    response_model=InsightOut,
    openapi_extra=body_schema(AnnotateRequest),
    responses=error_responses(401, 403, 404, 409, 413),
)
async def annotate(insight_id: InsightId, request: Request, who: Annotator, db: DbDep) -> InsightOut:
    """Accept, reject, or edit (with ``correction``) an open insight; annotating twice is a 409."""
    body = await read_body(request, AnnotateRequest)
    sink = request.app.state.sink
    insight = await run_in_threadpool(
        lambda: insights.annotate(
            db, insight_id, annotation=insights.Annotation(body.annotation), correction=body.correction,
            username=body.username or who, sink=sink,
        )
    )
    return InsightOut.model_validate(insight)
