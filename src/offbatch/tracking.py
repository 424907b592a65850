"""Keeping job rows in step with their backend: state, reason, tasks by state, finish time and
actual cost; a state change is notified (``notifications``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from offbatch import contract, costs, notifications, storage
from offbatch.backends import Backend, JobState, JobStatus, TaskState, get_backend
from offbatch.db.models import Job
from offbatch.db.session import Database
from offbatch.errors import NotFoundError, StorageError
from offbatch.settings import Settings


def get_job(db: Database, job_id: str) -> Job:
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}", hint="see the jobs with: offbatch list")
        return job


def backend_for(settings: Settings, job: Job, cache: dict[str, Backend] | None = None) -> Backend:
    if cache is not None and job.backend in cache:
        return cache[job.backend]
    backend = get_backend(job.backend, settings)
    if cache is not None:
        cache[job.backend] = backend
    return backend


def refresh(
    settings: Settings, db: Database, job_id: str, *, backend: Backend | None = None, notify_later: bool = False
) -> tuple[Job, JobStatus]:
    """Ask the backend for the job's status and record it on the job row; notify a change
    (in a background thread with ``notify_later``, so a request never waits on the receiver)."""
    job = get_job(db, job_id)
    backend = backend or backend_for(settings, job)
    try:
        status = backend.status(job.backend_ref or job.id)
    except NotFoundError:
        if job.backend_ref:
            raise
        # Reserved by a launch that has not submitted it yet (launcher.reserve_job): the row is all there is.
        return job, JobStatus(job_id=job.id, state=JobState(job.state), created_at=job.created_at, reason=job.reason)
    _add_task_causes(status, output_url=f"{job.storage_url}/output")
    with db.session() as s:
        row = s.get(Job, job_id)
        changed = row.state != status.state.value
        row.task_counts = status.task_counts()
        if not JobState(row.state).is_finished() or row.state != status.state.value:
            row.state = status.state.value
            row.reason = status.reason
            if status.state.is_finished():
                row.finished_at = status.finished_at or datetime.now(UTC)
        hourly = costs.hourly_price(
            location=row.config["location"],
            machine_type=row.config["machine_type"],
            spot=row.config.get("provisioning_model") == "spot",
        )
        if hourly is not None:
            row.cost_actual_usd = costs.actual_cost(
                hourly_usd=hourly, task_seconds=[t.run_seconds for t in status.tasks]
            )
        job = row
    if changed:
        if notify_later:
            notifications.notify_later(settings, db, job_id)
        else:
            notifications.notify(settings, db, job_id)
    return job, status


def _add_task_causes(status: JobStatus, *, output_url: str) -> None:
    """Put the one-line cause a task left in storage (bad input, exit 3) into its reason and the job's.

    Backends only see an exit code; the worker writes why (``worker.record_failure``).
    """
    if status.state != JobState.FAILED:
        return
    causes = []
    for task in status.tasks:
        if task.state != TaskState.FAILED or task.exit_code not in (None, contract.EXIT_BAD_INPUT):
            continue
        try:
            cause = storage.read_bytes(storage.failure_url(output_url, task.index)).decode().strip()
        except StorageError:
            continue
        if cause:
            task.reason = (f"task {task.index} failed on bad input or environment "
                           f"(exit {contract.EXIT_BAD_INPUT}; not retried): {cause}")
            causes.append(task.reason)
    if causes:
        status.reason = causes[0]


def list_jobs(db: Database, *, limit: int = 50, job_type: str | None = None) -> list[Job]:
    with db.session() as s:
        query = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if job_type:
            query = query.where(Job.job_type == job_type)
        return list(s.scalars(query))
