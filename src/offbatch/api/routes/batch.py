"""Batch routes: the import webhook, import progress, jobs."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from offbatch import tracking
from offbatch.api.deps import DbDep, ImportGrant, body_schema, read_body
from offbatch.api.errors import error_responses
from offbatch.api.schemas import (
    JOB_ID_PATTERN,
    MAX_ID,
    ImportAccepted,
    ImportOut,
    ImportRequest,
    JobDetail,
    JobList,
    JobOut,
)
from offbatch.errors import ConfigError, ForbiddenError
from offbatch.imports import enqueue_import
from offbatch.imports.queue import get_run, run_for_job

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


@router.get("/jobs", response_model=JobList)
def list_jobs(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    job_type: Annotated[str | None, Query(pattern=JOB_ID_PATTERN, max_length=63)] = None,
) -> JobList:
    return JobList(jobs=[JobOut.model_validate(j) for j in tracking.list_jobs(db, limit=limit, job_type=job_type)])


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=error_responses(404))
def get_job(job_id: Annotated[str, Path(pattern=JOB_ID_PATTERN, max_length=63)], db: DbDep) -> JobDetail:
    job = tracking.get_job(db, job_id)
    run = run_for_job(db, job_id)
    detail = JobDetail.model_validate(job)
    detail.imports = ImportOut.model_validate(run) if run is not None else None
    return detail
