"""Google Batch job and task messages turned into offbatch's JobStatus and TaskStatus.

Pure functions over the proto-plus messages (no calls): the table of state mappings is in
``backend.py``'s docstring. Attempts and run time of a task come from its status events: each
move into RUNNING starts an attempt, the next move out of RUNNING ends it. A task's exit code is
its last attempt's: Google puts ``task_execution`` only on failure events, so a success is 0.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from offbatch.backends.base import JobEvent, JobState, JobStatus, TaskState, TaskStatus

# Google's JobStatus.State / TaskStatus.State names -> ours (unspecified: not yet admitted).
JOB_STATES: dict[str, JobState] = {
    "STATE_UNSPECIFIED": JobState.QUEUED,
    "QUEUED": JobState.QUEUED,
    "SCHEDULED": JobState.SCHEDULED,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "DELETION_IN_PROGRESS": JobState.DELETION_IN_PROGRESS,
    "CANCELLATION_IN_PROGRESS": JobState.CANCELLATION_IN_PROGRESS,
    "CANCELLED": JobState.CANCELLED,
}
TASK_STATES: dict[str, TaskState] = {
    "STATE_UNSPECIFIED": TaskState.PENDING,
    "PENDING": TaskState.PENDING,
    "ASSIGNED": TaskState.ASSIGNED,
    "RUNNING": TaskState.RUNNING,
    "SUCCEEDED": TaskState.SUCCEEDED,
    "FAILED": TaskState.FAILED,
    "UNEXECUTED": TaskState.UNEXECUTED,
}
# Job status events carry no state field; their description says "... from X to Y ...".
_TO_STATE = re.compile(r"\bto ([A-Z_]+)\b")


def _time(value: Any) -> datetime | None:
    """A proto timestamp (proto-plus gives a DatetimeWithNanoseconds, or None/epoch when unset)."""
    if not value:
        return None
    moment = value if isinstance(value, datetime) else value.ToDatetime(tzinfo=UTC)
    if moment.timestamp() <= 0:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def created_at(job: Any) -> datetime | None:
    return _time(job.create_time)


def job_state(job: Any) -> JobState:
    return JOB_STATES.get(job.status.state.name, JobState.QUEUED)


def job_events(job: Any) -> list[JobEvent]:
    events = []
    for event in job.status.status_events:
        match = _TO_STATE.search(event.description or "")
        state = JOB_STATES.get(match.group(1)) if match else None
        events.append(JobEvent(time=_time(event.event_time) or datetime.now(UTC), description=event.description,
                               state=state))
    return events


def task_index(task: Any) -> int:
    """Task names end in ``.../taskGroups/group0/tasks/<index>``."""
    return int(task.name.rsplit("/", 1)[-1])


def task_status(task: Any, *, job: JobState, now: datetime) -> TaskStatus:
    state = TASK_STATES.get(task.status.state.name, TaskState.PENDING)
    if job in (JobState.CANCELLED, JobState.CANCELLATION_IN_PROGRESS) and not state.is_finished():
        # Google has no cancelled task state: unfinished tasks of a cancelled job are cancelled.
        state = TaskState.CANCELLED
    attempts, run_seconds = 0, 0.0
    started = finished = running_since = None
    exit_code: int | None = None
    reason: str | None = None
    for event in task.status.status_events:
        at = _time(event.event_time) or now
        new = event.task_state.name
        if new == "RUNNING" and running_since is None:
            exit_code = None  # a new attempt: the previous one's code no longer describes the task
        # Google sets task_execution only on failures; a success carries none and means 0.
        if "task_execution" in event:
            exit_code = event.task_execution.exit_code
        elif new == "SUCCEEDED":
            exit_code = 0
        if new == "RUNNING" and running_since is None:
            attempts += 1
            running_since = at
            started = started or at
        elif new != "RUNNING" and running_since is not None:
            run_seconds += (at - running_since).total_seconds()
            running_since = None
        if new in ("FAILED", "SUCCEEDED"):
            finished = at
            reason = event.description if new == "FAILED" else None
    if running_since is not None:
        run_seconds += max((now - running_since).total_seconds(), 0.0)
    if not state.is_finished():
        finished = None
    return TaskStatus(
        index=task_index(task),
        state=state,
        attempts=attempts,
        exit_code=exit_code,
        reason=reason,
        started_at=started,
        finished_at=finished,
        run_seconds=run_seconds,
    )


def job_status(job: Any, tasks: list[Any], *, now: datetime | None = None) -> JobStatus:
    now = now or datetime.now(UTC)
    state = job_state(job)
    events = job_events(job)
    started = next((e.time for e in events if e.state == JobState.RUNNING), None)
    finished = None
    reason = None
    if state.is_finished():
        finished = next((e.time for e in reversed(events) if e.state == state), None) or _time(job.update_time)
        if state != JobState.SUCCEEDED and events:
            reason = events[-1].description
    return JobStatus(
        job_id=job.name.rsplit("/", 1)[-1],
        state=state,
        tasks=sorted((task_status(t, job=state, now=now) for t in tasks), key=lambda t: t.index),
        created_at=_time(job.create_time),
        started_at=started,
        finished_at=finished,
        reason=reason,
        events=events,
    )
