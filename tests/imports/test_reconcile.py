"""Reconcile: SUCCEEDED jobs whose webhook never came get imported; failed jobs are marked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select

from offbatch.backends import BACKENDS, Backend, JobSpec, JobState, JobStatus
from offbatch.db.models import ImportRun, Job, Prediction
from offbatch.errors import NotFoundError
from offbatch.imports import ImportState, enqueue_import, process_queue, reconcile
from tests.conftest import output_row


class ScriptedBackend(Backend):
    """A backend whose jobs are in whatever state the test writes into ``states``."""

    name = "scripted"
    states: ClassVar[dict[str, tuple[JobState, str | None]]] = {}

    def describe(self, spec: JobSpec) -> dict[str, Any]:
        return {}

    def submit(self, spec: JobSpec) -> str:
        self.states[spec.job_id] = (JobState.QUEUED, None)
        return spec.job_id

    def status(self, ref: str) -> JobStatus:
        if ref not in self.states:
            raise NotFoundError(f"no job {ref}")
        state, reason = self.states[ref]
        return JobStatus(job_id=ref, state=state, reason=reason)

    def logs(self, ref: str, *, task: int | None = None, follow: bool = False) -> Iterator[str]:
        return iter(())

    def cancel(self, ref: str) -> None:
        pass

    def list(self) -> list[JobStatus]:
        return [self.status(ref) for ref in self.states]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, db) -> type[ScriptedBackend]:
    monkeypatch.setitem(BACKENDS, "scripted", (f"{__name__}:ScriptedBackend", ""))
    monkeypatch.setattr(ScriptedBackend, "states", {})
    return ScriptedBackend


def _job(db, make_job, **kw) -> Job:
    job = make_job([[output_row("1", original="sucer", correction="sucre")]], state="RUNNING", **kw)
    with db.session() as s:
        s.get(Job, job.id).backend = "scripted"
    return job


def test_succeeded_job_without_webhook_is_imported(db, settings, make_job, scripted):
    job = _job(db, make_job)
    scripted.states[job.id] = (JobState.SUCCEEDED, None)
    report = reconcile(settings, db)
    assert report.refreshed == [job.id] and report.queued == [job.id]
    assert process_queue(settings, db, worker_id="w", once=True) == 1
    with db.session() as s:
        run = s.scalars(select(ImportRun)).one()
        assert s.get(Job, job.id).state == "SUCCEEDED"
        assert s.scalar(select(func.count()).select_from(Prediction)) == 1
    assert run.state == ImportState.SUCCEEDED and run.deliveries == 0  # no webhook ever came
    assert reconcile(settings, db).queued == []  # done once


def test_running_job_is_left_alone(db, settings, make_job, scripted):
    job = _job(db, make_job)
    scripted.states[job.id] = (JobState.RUNNING, None)
    report = reconcile(settings, db)
    assert report.refreshed == [job.id] and report.queued == [] and report.failed == []


def test_failed_job_marks_its_pending_import_failed(db, settings, make_job, scripted):
    job = _job(db, make_job, task_count=2)
    assert enqueue_import(db, job.id).state == ImportState.WAITING
    scripted.states[job.id] = (JobState.FAILED, "task 1 exited with code 3")
    report = reconcile(settings, db)
    assert report.failed == [job.id]
    with db.session() as s:
        run = s.scalars(select(ImportRun)).one()
    assert run.state == ImportState.FAILED and "task 1 exited with code 3" in run.error


def test_succeeded_job_with_missing_parts_is_marked_failed(db, settings, make_job, scripted):
    job = _job(db, make_job, task_count=2)
    scripted.states[job.id] = (JobState.SUCCEEDED, None)
    report = reconcile(settings, db)
    assert report.failed == [job.id]
    with db.session() as s:
        assert "output parts [1] are missing" in s.scalars(select(ImportRun.error)).one()


def test_an_unreachable_job_does_not_stop_the_others(db, settings, make_job, scripted):
    lost = _job(db, make_job)
    ok = _job(db, make_job)
    scripted.states[ok.id] = (JobState.SUCCEEDED, None)
    report = reconcile(settings, db)
    assert report.queued == [ok.id] and lost.id in report.errors
