"""Batch routes: the import webhook and import progress (jobs are in ``jobs.py``)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool

from offbatch import tracking
from offbatch.api.deps import DbDep, ImportGrant, body_schema, read_body
from offbatch.api.errors import error_responses
from offbatch.api.schemas import (
    MAX_ID,
    ImportAccepted,
    ImportOut,
    ImportRequest,
)
from offbatch.errors import ConfigError, ForbiddenError
from offbatch.imports import enqueue_import
from offbatch.imports.queue import get_run

router = APIRouter(prefix="/api/v1/batch", tags=["batch"])

IMPORT_BODY_LIMIT = 16 * 1024


@router.post(
    "/import",
    status_code=202,
    response_model=ImportAccepted,
    openapi_extra=body_schema(ImportRequest),
    responses=error_responses(401, 403, 404, 413),
)
async def import_job(request: Request, grant: ImportGrant, db: DbDep) -> ImportAccepted:
    """Queue the import of a finished job (idempotent: one import per job, deliveries counted)."""
    body = await read_body(request, ImportRequest, limit=IMPORT_BODY_LIMIT)
    if not hmac.compare_digest(body.job_id.encode(), grant.encode()):
        raise ForbiddenError("the import token does not grant this job")
    job = await run_in_threadpool(tracking.get_job, db, body.job_id)
    if job.job_type != body.job_type:
        raise ConfigError(f"job {job.id} is of type {job.job_type!r}, not {body.job_type!r}")
    run = await run_in_threadpool(enqueue_import, db, job.id)
    wake = getattr(request.app.state, "wake", None)
    if wake is not None:
        wake.set()
    return ImportAccepted(
        import_id=run.id, job_id=run.job_id, state=run.state, deliveries=run.deliveries,
        status_url=f"/api/v1/batch/imports/{run.id}",
    )


@router.get("/imports/{import_id}", response_model=ImportOut, responses=error_responses(404))
def get_import(import_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DbDep) -> ImportOut:
    return ImportOut.model_validate(get_run(db, import_id))
