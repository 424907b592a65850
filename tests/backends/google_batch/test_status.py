"""Google's job and task messages mapped to offbatch's states, attempts and run time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import batch_v1

from offbatch.backends.base import JobState, TaskState
from offbatch.backends.google_batch import status

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TState = batch_v1.TaskStatus.State


@pytest.mark.parametrize("state", list(batch_v1.JobStatus.State))
def test_every_google_job_state_has_a_mapping(state) -> None:
    assert state.name in status.JOB_STATES


@pytest.mark.parametrize("state", list(TState))
def test_every_google_task_state_has_a_mapping(state) -> None:
    assert state.name in status.TASK_STATES


def _task(events: list[tuple[int, TState, int | None]], state: TState, index: int = 4) -> batch_v1.Task:
    return batch_v1.Task(
        name=f"projects/p/locations/l/jobs/j/taskGroups/group0/tasks/{index}",
        status=batch_v1.TaskStatus(
            state=state,
            status_events=[
                batch_v1.StatusEvent(
                    description=f"Task state is updated to {s.name}",
                    event_time=T0 + timedelta(seconds=at),
                    task_state=s,
                    **({"task_execution": batch_v1.TaskExecution(exit_code=code)} if code is not None else {}),
                )
                for at, s, code in events
            ],
        ),
    )


def test_a_preempted_then_successful_task_counts_both_attempts_and_their_run_time() -> None:
    task = _task(
        [
            (0, TState.ASSIGNED, None),
            (10, TState.RUNNING, None),
            (70, TState.FAILED, 50001),
            (71, TState.PENDING, None),
            (80, TState.ASSIGNED, None),
            (90, TState.RUNNING, None),
            (190, TState.SUCCEEDED, 0),
        ],
        TState.SUCCEEDED,
    )
    got = status.task_status(task, job=JobState.SUCCEEDED, now=T0 + timedelta(hours=1))
    assert (got.index, got.state, got.attempts, got.exit_code, got.run_seconds) == (
        4, TaskState.SUCCEEDED, 2, 0, 160.0
    )
    assert got.started_at == T0 + timedelta(seconds=10) and got.finished_at == T0 + timedelta(seconds=190)


def test_a_running_task_counts_time_until_now() -> None:
    task = _task([(0, TState.ASSIGNED, None), (5, TState.RUNNING, None)], TState.RUNNING)
    got = status.task_status(task, job=JobState.RUNNING, now=T0 + timedelta(seconds=65))
    assert (got.state, got.attempts, got.run_seconds, got.finished_at) == (TaskState.RUNNING, 1, 60.0, None)


def test_unfinished_tasks_of_a_cancelled_job_are_cancelled() -> None:
    task = _task([(0, TState.ASSIGNED, None), (5, TState.RUNNING, None)], TState.RUNNING)
    assert status.task_status(task, job=JobState.CANCELLED, now=T0).state == TaskState.CANCELLED
    done = _task([(5, TState.RUNNING, None), (9, TState.SUCCEEDED, 0)], TState.SUCCEEDED)
    assert status.task_status(done, job=JobState.CANCELLED, now=T0).state == TaskState.SUCCEEDED


def test_job_events_give_the_start_and_end_and_failure_reason() -> None:
    job = batch_v1.Job(
        name="projects/p/locations/l/jobs/my-job",
        create_time=T0,
        status=batch_v1.JobStatus(
            state=batch_v1.JobStatus.State.FAILED,
            status_events=[
                batch_v1.StatusEvent(description="Job state is set from QUEUED to SCHEDULED", event_time=T0),
                batch_v1.StatusEvent(description="Job state is set from SCHEDULED to RUNNING",
                                     event_time=T0 + timedelta(seconds=30)),
                batch_v1.StatusEvent(description="Job state is set from RUNNING to FAILED for job x: "
                                     "1 task failed", event_time=T0 + timedelta(seconds=90)),
            ],
        ),
    )
    got = status.job_status(job, [], now=T0)
    assert (got.job_id, got.state, got.created_at, got.started_at, got.finished_at) == (
        "my-job", JobState.FAILED, T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=90)
    )
    assert "1 task failed" in got.reason


def test_a_task_exit_code_is_its_last_attempts_and_success_events_carry_none() -> None:
    # As Google sends them: task_execution only on the failure; the retry's success has none.
    task = _task(
        [
            (10, TState.RUNNING, None),
            (70, TState.FAILED, 50001),
            (71, TState.PENDING, None),
            (90, TState.RUNNING, None),
            (190, TState.SUCCEEDED, None),
        ],
        TState.SUCCEEDED,
    )
    got = status.task_status(task, job=JobState.SUCCEEDED, now=T0 + timedelta(hours=1))
    assert (got.state, got.attempts, got.exit_code) == (TaskState.SUCCEEDED, 2, 0)
    # While the retry runs, the failed attempt's code no longer describes the task.
    running = _task([(10, TState.RUNNING, None), (70, TState.FAILED, 50001), (90, TState.RUNNING, None)],
                    TState.RUNNING)
    assert status.task_status(running, job=JobState.RUNNING, now=T0 + timedelta(seconds=100)).exit_code is None
