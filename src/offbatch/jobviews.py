"""What the web console shows of jobs: rows for the jobs page, a job's detail, task log pages.

A thin layer over ``tracking`` and the backend contract, shared by the API routes. Unfinished
jobs are refreshed from their backend when looked at (as ``offbatch list`` does), so the page
sees live states and the tracker notices (and notifies) changes; finished jobs are read from
their rows. A backend that cannot answer does not hide the job: its error is reported with it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from offbatch import tracking
from offbatch.backends import Backend, JobState, JobStatus
from offbatch.db.models import ImportRun, Insight, Job
from offbatch.db.session import Database
from offbatch.errors import NotFoundError, OffbatchError
from offbatch.progress import rows_done
from offbatch.settings import Settings

# The config fields a job page shows (never ``env``: it may hold values the operator set).
CONFIG_SUMMARY = (
    "location", "machine_type", "provisioning_model", "accelerator_type", "accelerator_count",
    "cpu_milli", "memory_mib", "boot_disk_mib", "task_count", "parallelism", "max_retry_count",
    "max_run_duration", "engine", "chunk_size", "budget_usd", "container_image_uri",
)
MAX_LOG_LINES = 5000


@dataclass
class JobView:
    job: Job
    imports: ImportRun | None
    rows_done: int | None
    status: JobStatus | None = None
    backend_error: str | None = None
    insights: dict[str, int] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return {k: self.job.config[k] for k in CONFIG_SUMMARY if k in self.job.config}


def _progress(job: Job) -> int | None:
    if job.state == JobState.SUCCEEDED.value:
        return job.rows_selected
    try:
        return rows_done(job)
    except OffbatchError:
        return None
    except OSError:
        return None


def _imports(db: Database, job_ids: list[str]) -> dict[str, ImportRun]:
    if not job_ids:
        return {}
    with db.session() as s:
        return {r.job_id: r for r in s.scalars(select(ImportRun).where(ImportRun.job_id.in_(job_ids)))}


def job_rows(settings: Settings, db: Database, *, limit: int, job_type: str | None = None) -> list[JobView]:
    """Recent jobs, newest first, unfinished ones refreshed from their backend."""
    backends: dict[str, Backend] = {}
    jobs = []
    for job in tracking.list_jobs(db, limit=limit, job_type=job_type):
        if tracking.needs_refresh(job):
            try:
                job, _ = tracking.refresh(settings, db, job.id, backend=tracking.backend_for(settings, job, backends),
                                          notify_later=True)
            except OffbatchError:
                pass  # shown as last recorded; the job page says why
        jobs.append(job)
    runs = _imports(db, [j.id for j in jobs])
    return [JobView(job=j, imports=runs.get(j.id), rows_done=_progress(j)) for j in jobs]


def job_detail(settings: Settings, db: Database, job_id: str) -> JobView:
    """One job with its tasks and events from the backend, its import and insight counts."""
    job = tracking.get_job(db, job_id)
    status, error = None, None
    try:
        job, status = tracking.refresh(settings, db, job_id, notify_later=True)
    except OffbatchError as e:
        error = e.message
    with db.session() as s:
        counts = dict(s.execute(
            select(Insight.annotation.is_(None), func.count()).where(Insight.job_id == job_id)
            .group_by(Insight.annotation.is_(None))
        ).all())
    return JobView(
        job=job, imports=_imports(db, [job_id]).get(job_id), rows_done=_progress(job), status=status,
        backend_error=error, insights={"open": counts.get(True, 0), "annotated": counts.get(False, 0)},
    )


@dataclass
class LogPage:
    lines: list[str]
    next_cursor: int
    finished: bool


def task_logs(settings: Settings, db: Database, job_id: str, task: int, *, cursor: int | None,
              tail: int = 200, limit: int = MAX_LOG_LINES) -> LogPage:
    """Lines of task ``task``'s log: from line ``cursor`` on (at most ``limit``), or the last
    ``tail`` lines when no cursor is given. ``next_cursor`` continues where this page ended."""
    job = tracking.get_job(db, job_id)
    if task >= job.task_count:
        raise NotFoundError(f"job {job_id} has no task {task} (it has {job.task_count})")
    backend = tracking.backend_for(settings, job)
    finished = JobState(job.state).is_finished() or backend.status(job.backend_ref or job.id).state.is_finished()
    lines = backend.logs(job.backend_ref or job.id, task=task, follow=False)
    if cursor is None:
        everything = list(lines)
        return LogPage(lines=everything[-tail:] if tail else [], next_cursor=len(everything), finished=finished)
    page = list(itertools.islice(lines, cursor, cursor + limit))
    return LogPage(lines=page, next_cursor=cursor + len(page), finished=finished and len(page) < limit)


def cancel(settings: Settings, db: Database, job_id: str) -> Job:
    """Ask the backend to cancel the job (idempotent) and record the state it reports."""
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    backend.cancel(job.backend_ref or job.id)
    job, _ = tracking.refresh(settings, db, job_id, backend=backend, notify_later=True)
    return job
