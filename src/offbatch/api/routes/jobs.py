"""Job routes for the web console and scripts: list, detail, task logs (with a cursor to follow
them), cancel (behind the annotation/operator token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from offbatch import jobviews
from offbatch.api.deps import Annotator, DbDep, SettingsDep
from offbatch.api.errors import error_responses
from offbatch.api.schemas import (
    JOB_ID_PATTERN,
    CancelOut,
    EventOut,
    ImportOut,
    JobDetail,
    JobList,
    JobRow,
    TaskLogs,
    TaskOut,
)

router = APIRouter(prefix="/api/v1/batch/jobs", tags=["jobs"])

JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, max_length=63)]
NOT_FOUND = error_responses(404)
BACKEND_DOWN = error_responses(502)


def _row(view: jobviews.JobView, model: type[JobRow] = JobRow) -> JobRow:
    row = model.model_validate(view.job, from_attributes=True)
    row.rows_done = view.rows_done
    row.imports = ImportOut.model_validate(view.imports) if view.imports is not None else None
    return row


@router.get("", response_model=JobList)
def list_jobs(
    db: DbDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    job_type: Annotated[str | None, Query(pattern=JOB_ID_PATTERN, max_length=63)] = None,
) -> JobList:
    """Recent jobs, newest first; unfinished ones are refreshed from their backend."""
    return JobList(jobs=[_row(v) for v in jobviews.job_rows(settings, db, limit=limit, job_type=job_type)])


@router.get("/{job_id}", response_model=JobDetail, responses=NOT_FOUND)
def get_job(job_id: JobId, db: DbDep, settings: SettingsDep) -> JobDetail:
    """The job, its config summary, tasks and events (from the backend), import and insights."""
    view = jobviews.job_detail(settings, db, job_id)
    detail = _row(view, JobDetail)
    assert isinstance(detail, JobDetail)
    detail.config_summary = view.config
    detail.backend_error = view.backend_error
    detail.insights_open = view.insights.get("open", 0)
    detail.insights_annotated = view.insights.get("annotated", 0)
    if view.status is not None:
        detail.tasks = [
            TaskOut(index=t.index, state=t.state.value, attempts=t.attempts, exit_code=t.exit_code, reason=t.reason,
                    started_at=t.started_at, finished_at=t.finished_at, run_seconds=round(t.run_seconds, 3))
            for t in view.status.tasks
        ]
        detail.events = [EventOut(time=e.time, description=e.description, state=e.state.value if e.state else None)
                         for e in view.status.events]
    return detail


@router.get("/{job_id}/tasks/{task}/logs", response_model=TaskLogs, responses=NOT_FOUND | BACKEND_DOWN)
def task_logs(
    job_id: JobId,
    task: Annotated[int, Path(ge=0, le=100_000)],
    db: DbDep,
    settings: SettingsDep,
    cursor: Annotated[int | None, Query(ge=0, le=10**9)] = None,
    tail: Annotated[int, Query(ge=0, le=jobviews.MAX_LOG_LINES)] = 200,
) -> TaskLogs:
    """Without ``cursor``: the last ``tail`` lines. With it: the lines from there on. Either way
    ``next_cursor`` fetches only what is written next (follow until ``finished``)."""
    page = jobviews.task_logs(settings, db, job_id, task, cursor=cursor, tail=tail)
    return TaskLogs(job_id=job_id, task=task, lines=page.lines, next_cursor=page.next_cursor, finished=page.finished)


@router.post(
    "/{job_id}/cancel",
    response_model=CancelOut,
    responses=error_responses(401, 403, 404, 502),
)
def cancel_job(job_id: JobId, _who: Annotator, db: DbDep, settings: SettingsDep) -> CancelOut:
    """Cancel the job (idempotent: a finished job is left as it is). Needs the operator token
    (``OFFBATCH_ANNOTATION_TOKEN``)."""
    job = jobviews.cancel(settings, db, job_id)
    return CancelOut(job_id=job.id, state=job.state)
