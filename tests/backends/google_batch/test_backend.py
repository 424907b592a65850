"""The google-batch backend through the real BatchServiceClient against the fake service."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from offbatch.backends.base import JobState, JobStatus, TaskState
from offbatch.backends.google_batch.backend import GoogleBatchBackend
from offbatch.errors import BackendError, NotFoundError
from tests.backends.google_batch.conftest import TOKEN, make_spec
from tests.fakes.google_batch_fixtures import TEST_PROJECT
from tests.fakes.task_runners import BlockingRunner, ScriptedRunner

DEADLINE_S = 20.0


def wait_for(backend: GoogleBatchBackend, ref: str, done: Callable[[JobStatus], bool] = lambda s: s.state.is_finished()
             ) -> JobStatus:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        status = backend.status(ref)
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {ref} still {status.state} after {DEADLINE_S}s")
        time.sleep(0.01)


def python_task(code: str, **overrides: Any) -> dict[str, Any]:
    """Config overrides whose container runs ``python -c code`` (no image is pulled by the fake)."""
    return {"entrypoint": sys.executable, "commands": ["-c", code], **overrides}


@pytest.fixture
def fake_batch_runner() -> ScriptedRunner:
    return ScriptedRunner()


def test_submitted_job_succeeds_with_every_task(google_backend, fake_batch) -> None:
    ref = google_backend.submit(make_spec(task_count=3, parallelism=2))
    assert ref == f"projects/{TEST_PROJECT}/locations/europe-west4/jobs/ingredients-spellcheck-20261124-153012"
    status = wait_for(google_backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert [(t.index, t.state, t.attempts, t.exit_code) for t in status.tasks] == [
        (i, TaskState.SUCCEEDED, 1, 0) for i in range(3)
    ]
    assert status.created_at and status.started_at and status.finished_at
    assert [e.state for e in status.events if e.state] == [
        JobState.QUEUED, JobState.SCHEDULED, JobState.RUNNING, JobState.SUCCEEDED
    ]
    assert all(t.run_seconds >= 0 and t.started_at and t.finished_at for t in status.tasks)


def test_the_request_received_carries_the_token_and_the_labels(google_backend, fake_batch) -> None:
    google_backend.submit(make_spec())
    (received,) = fake_batch.service.requests
    assert received.job.task_groups[0].task_spec.environment.variables["OFFBATCH_IMPORT_TOKEN"] == TOKEN
    assert received.job.labels["offbatch-job-type"] == "ingredients-spellcheck"


def test_held_job_reports_queued_until_released(google_backend, fake_batch) -> None:
    fake_batch.service.hold = True
    ref = google_backend.submit(make_spec())
    status = google_backend.status(ref)
    assert status.state == JobState.QUEUED
    assert {t.state for t in status.tasks} == {TaskState.PENDING}
    fake_batch.service.release("ingredients-spellcheck-20261124-153012")
    assert wait_for(google_backend, ref).state == JobState.SUCCEEDED


@pytest.mark.parametrize("fake_batch_runner", [ScriptedRunner({1: [50001, 0]})])
def test_preempted_task_is_retried(google_backend, fake_batch_runner) -> None:
    status = wait_for(google_backend, google_backend.submit(make_spec(max_retry_count=1)))
    assert status.state == JobState.SUCCEEDED
    assert [(t.attempts, t.exit_code) for t in status.tasks] == [(1, 0), (2, 0)]
    assert sorted(fake_batch_runner.runs) == [(0, 0), (1, 0), (1, 1)]


@pytest.mark.parametrize("fake_batch_runner", [ScriptedRunner({0: [3]})])
def test_bad_input_fails_at_once_without_burning_retries(google_backend, fake_batch_runner) -> None:
    status = wait_for(google_backend, google_backend.submit(make_spec(max_retry_count=3, task_count=1,
                                                                      parallelism=1)))
    assert status.state == JobState.FAILED
    (task,) = status.tasks
    assert (task.state, task.attempts, task.exit_code) == (TaskState.FAILED, 1, 3)
    assert "exit code 3" in (task.reason or "")
    assert status.reason


@pytest.mark.parametrize("fake_batch_runner", [ScriptedRunner({0: [1]})])
def test_failing_task_uses_its_retries_then_fails_the_job(google_backend, fake_batch_runner) -> None:
    status = wait_for(google_backend, google_backend.submit(make_spec(max_retry_count=2, task_count=3,
                                                                      parallelism=1)))
    assert status.state == JobState.FAILED
    assert [(t.state, t.attempts) for t in status.tasks] == [
        (TaskState.FAILED, 3), (TaskState.UNEXECUTED, 0), (TaskState.UNEXECUTED, 0)
    ]


@pytest.mark.parametrize("fake_batch_runner", [BlockingRunner()])
def test_cancel_is_idempotent(google_backend, fake_batch, fake_batch_runner) -> None:
    ref = google_backend.submit(make_spec())
    assert fake_batch_runner.started.wait(DEADLINE_S)
    assert google_backend.status(ref).state == JobState.RUNNING
    google_backend.cancel(ref)
    google_backend.cancel(ref)
    status = wait_for(google_backend, ref)
    assert status.state == JobState.CANCELLED
    assert {t.state for t in status.tasks} == {TaskState.CANCELLED}
    calls = fake_batch.service.calls["CancelJob"]
    google_backend.cancel(ref)
    assert fake_batch.service.calls["CancelJob"] == calls  # finished: nothing sent


def test_cancelling_a_finished_job_does_nothing(google_backend, fake_batch) -> None:
    ref = google_backend.submit(make_spec())
    wait_for(google_backend, ref)
    google_backend.cancel(ref)
    assert google_backend.status(ref).state == JobState.SUCCEEDED
    assert fake_batch.service.calls["CancelJob"] == 0


def test_list_shows_offbatch_jobs_in_every_location(google_backend, fake_batch) -> None:
    a = google_backend.submit(make_spec("job-a"))
    b = google_backend.submit(make_spec("job-b", location="us-central1"))
    from google.cloud import batch_v1

    # A job of someone else in the same project, without offbatch's labels.
    google_backend.client.create_job(
        request=batch_v1.CreateJobRequest(
            parent=f"projects/{TEST_PROJECT}/locations/europe-west4",
            job_id="not-ours",
            job=batch_v1.Job(task_groups=[batch_v1.TaskGroup(task_spec=batch_v1.TaskSpec(
                runnables=[batch_v1.Runnable(script=batch_v1.Runnable.Script(text="true"))]))]),
        )
    )
    wait_for(google_backend, a), wait_for(google_backend, b)
    assert sorted(j.job_id for j in google_backend.list()) == ["job-a", "job-b"]
    # A bare id is found in whichever location it runs.
    assert google_backend.status("job-b").state == JobState.SUCCEEDED


def test_unknown_job_is_not_found(google_backend) -> None:
    missing = f"projects/{TEST_PROJECT}/locations/europe-west4/jobs/missing"
    with pytest.raises(NotFoundError, match="missing"):
        google_backend.status(missing)
    with pytest.raises(NotFoundError):
        google_backend.cancel(missing)
    with pytest.raises(NotFoundError):
        google_backend.status("missing")


def test_a_second_submit_of_the_same_id_is_refused(google_backend) -> None:
    google_backend.submit(make_spec())
    with pytest.raises(BackendError, match="already exists"):
        google_backend.submit(make_spec())


def test_status_polls_are_cheap(google_backend, fake_batch) -> None:
    ref = google_backend.submit(make_spec())
    wait_for(google_backend, ref)
    before = dict(fake_batch.service.calls)
    google_backend.status(ref)
    after = fake_batch.service.calls
    assert (after["GetJob"] - before.get("GetJob", 0), after["ListTasks"] - before.get("ListTasks", 0)) == (1, 1)


@pytest.mark.parametrize("fake_batch_runner", [ScriptedRunner({0: [50001, 0], 1: [1, 1]})])
def test_the_fake_reports_exit_codes_only_on_failures_as_google_does(google_backend, fake_batch_runner) -> None:
    ref = google_backend.submit(make_spec(max_retry_count=1))
    status = wait_for(google_backend, ref)
    events = {int(t.name.rsplit("/", 1)[-1]): list(t.status.status_events)
              for t in google_backend.client.list_tasks(f"{ref}/taskGroups/group0")}
    for task_events in events.values():
        for event in task_events:
            assert ("task_execution" in event) == (event.task_state.name == "FAILED"), event
    assert [(t.state, t.attempts, t.exit_code) for t in status.tasks] == [
        (TaskState.SUCCEEDED, 2, 0), (TaskState.FAILED, 2, 1)
    ]


def test_tasks_run_only_after_their_vm_started(google_backend, fake_batch) -> None:
    fake_batch.service.startup_s = 0.3
    status = wait_for(google_backend, google_backend.submit(make_spec(task_count=1, parallelism=1)))
    times = {e.state: e.time for e in status.events if e.state}
    # Boot, driver install and image pull lie between SCHEDULED and RUNNING.
    assert (times[JobState.RUNNING] - times[JobState.SCHEDULED]).total_seconds() >= 0.3
    (task,) = status.tasks
    assert task.started_at - times[JobState.SCHEDULED] >= timedelta(seconds=0.3)


@pytest.mark.parametrize("fake_batch_runner", [ScriptedRunner()])
def test_an_image_that_cannot_be_pulled_shows_in_the_agent_logs(google_backend, fake_batch) -> None:
    spec = make_spec(task_count=1, parallelism=1, max_retry_count=0)
    fake_batch.service.unpullable.add(spec.config.container_image_uri)
    status = wait_for(google_backend, google_backend.submit(spec))
    (task,) = status.tasks
    assert (status.state, task.state, task.exit_code, task.attempts) == (JobState.FAILED, TaskState.FAILED, 125, 0)
    lines = list(google_backend.logs(status.job_id))
    assert any(line.startswith("[task 0] [agent] Error response from daemon: manifest for") for line in lines)


def test_a_bare_job_id_is_looked_up_in_its_own_location_first(google_settings, fake_batch) -> None:
    GoogleBatchBackend(google_settings).submit(make_spec())  # europe-west4, as the shipped config
    fresh = GoogleBatchBackend(google_settings)  # knows nothing of what was submitted
    assert wait_for(fresh, "ingredients-spellcheck-20261124-153012").state == JobState.SUCCEEDED
    assert fake_batch.service.calls["ListJobs"] == 0
