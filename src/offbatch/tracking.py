"""Keeping job rows in step with their backend: state, reason, tasks by state, finish time and
actual cost; a state change is notified (``notifications``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from offbatch import contract, costs, notifications, storage
from offbatch.backends import Backend, JobState, JobStatus, TaskState, get_backend
from offbatch.db.models import Job
from offbatch.db.session import Database
from offbatch.db.tables import as_utc
from offbatch.errors import NotFoundError, StorageError
from offbatch.settings import Settings

# A reserved row (QUEUED, no backend reference) that its launch has not renewed for this long
# (launcher.LAUNCH_HEARTBEAT_SECONDS beats) belongs to a launch that died before submitting it.
LAUNCH_STALE_AFTER = timedelta(seconds=120)
INTERRUPTED_LAUNCH = ("launch interrupted: the launching process stopped before it submitted the job "
                      "(its reservation was last renewed {age:.0f}s ago); launch it again")


def launch_went_stale(job: Job, *, now: datetime | None = None) -> bool:
    """A reserved, never-submitted row whose launch stopped renewing it (launcher.LaunchHeartbeat)."""
    if job.backend_ref or job.state != JobState.QUEUED.value:
        return False
    return (now or datetime.now(UTC)) - as_utc(job.updated_at) > LAUNCH_STALE_AFTER


def needs_refresh(job: Job) -> bool:
    """Whether a listing should ask the backend about ``job``: unfinished and submitted, or a
    reservation whose launch died (refresh settles it)."""
    return not JobState(job.state).is_finished() and (bool(job.backend_ref) or launch_went_stale(job))


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
        # Reserved by a launch that has not submitted it yet (launcher.reserve_job): the row is
        # all there is, unless that launch died, which settles the job as FAILED.
        job = _settle_interrupted_launch(settings, db, job, notify_later=notify_later)
        return job, JobStatus(job_id=job.id, state=JobState(job.state), created_at=job.created_at,
                              finished_at=job.finished_at, reason=job.reason)
    _add_task_causes(status, output_url=f"{job.storage_url}/output")
    with db.session() as s:
        row = s.get(Job, job_id)
        # Submitted by a launch that died before recording the reference: the id finds it.
        row.backend_ref = row.backend_ref or job.id
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


def _settle_interrupted_launch(settings: Settings, db: Database, job: Job, *, notify_later: bool) -> Job:
    """Mark a reserved job FAILED if its launch stopped renewing it; the row as it now stands.

    One conditional UPDATE: a launch that renews or submits the row meanwhile wins, and of two
    processes settling it, one does (and notifies)."""
    now = datetime.now(UTC)
    if not launch_went_stale(job, now=now):
        return job
    reason = INTERRUPTED_LAUNCH.format(age=(now - as_utc(job.updated_at)).total_seconds())
    settle = (
        update(Job)
        .where(Job.id == job.id, Job.backend_ref == "", Job.state == JobState.QUEUED.value,
               Job.updated_at == job.updated_at)
        .values(state=JobState.FAILED.value, reason=reason, finished_at=now, updated_at=now)
    )
    with db.engine.begin() as conn:
        settled = conn.execute(settle).rowcount == 1
    if settled:
        (notifications.notify_later if notify_later else notifications.notify)(settings, db, job.id)
    return get_job(db, job.id)


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
