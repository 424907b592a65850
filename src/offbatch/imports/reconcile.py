"""Reconcile: catch up with jobs whose webhook never arrived, and with jobs that failed.

One pass: refresh every unfinished job from its backend; queue the import of every SUCCEEDED
job that has no finished import (its webhook was lost, or no server was listening); mark the
pending import of a FAILED or CANCELLED job failed. Safe to run from several places at once:
every write goes through the queue's atomic upserts and conditional updates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from offbatch import notifications, tracking
from offbatch.backends import Backend, JobState
from offbatch.db.models import ImportRun, Job
from offbatch.db.session import Database
from offbatch.errors import OffbatchError
from offbatch.imports import reader
from offbatch.imports.queue import ImportState, fail_unclaimed, record_delivery
from offbatch.settings import Settings

log = logging.getLogger(__name__)

FAILED_JOB_STATES = (JobState.FAILED.value, JobState.CANCELLED.value)


@dataclass
class ReconcileReport:
    refreshed: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def reconcile(settings: Settings, db: Database) -> ReconcileReport:
    report = ReconcileReport()
    finished = [s.value for s in JobState if s.is_finished()]
    with db.session() as s:
        unfinished = list(s.scalars(select(Job.id).where(Job.state.not_in(finished))))
    backends: dict[str, Backend] = {}
    for job_id in unfinished:
        try:
            job = tracking.get_job(db, job_id)
            tracking.refresh(settings, db, job_id, backend=tracking.backend_for(settings, job, backends))
            report.refreshed.append(job_id)
        except OffbatchError as e:
            # One unreachable job must not stop the others (e.g. a launch still submitting).
            report.errors[job_id] = e.message
            log.warning("reconcile: cannot refresh job %s: %s", job_id, e.message)

    pending = (ImportState.WAITING.value, ImportState.FAILED.value)
    with db.session() as s:
        rows = s.execute(
            select(Job, ImportRun.id, ImportRun.state)
            .outerjoin(ImportRun, ImportRun.job_id == Job.id)
            .where(Job.state.in_([JobState.SUCCEEDED.value, *FAILED_JOB_STATES]))
            .where((ImportRun.id.is_(None)) | ImportRun.state.in_([*pending, ImportState.QUEUED.value]))
        ).all()
    for job, run_id, run_state in rows:
        if job.state in FAILED_JOB_STATES:
            if run_id is not None and run_state != ImportState.FAILED:
                fail_unclaimed(db, run_id, error=f"job {job.id} {job.state}: {job.reason or 'no reason given'}")
                notifications.notify(settings, db, job.id)
                report.failed.append(job.id)
            continue
        if run_state == ImportState.FAILED or run_state == ImportState.QUEUED:
            continue  # a failed import is retried by a delivery or `offbatch import`, not in a loop
        try:
            missing = reader.missing_parts(job)
        except OffbatchError as e:
            report.errors[job.id] = e.message
            continue
        if missing:
            # Succeeded, yet parts are missing: it can never import; say so on the run.
            run = record_delivery(db, job, ready=False, delivery=False)
            fail_unclaimed(db, run.id, error=f"job {job.id} succeeded but output parts {missing} are missing")
            notifications.notify(settings, db, job.id)
            report.failed.append(job.id)
            continue
        record_delivery(db, job, ready=True, delivery=False)
        report.queued.append(job.id)
    return report
