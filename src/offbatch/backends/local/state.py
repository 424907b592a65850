"""The local backend's on-disk state, written by the job's supervisor (or, once it is gone, by
the ``cancel`` or ``resume`` that takes its job over: ``takeover.py``).

``{home}/local-backend/{job_id}/``
    ``spec.json``        the job as submitted (worker env with secrets redacted)
    ``state.json``       job and task states, attempts, exit codes, heartbeat, the supervisor's
                         and running tasks' processes (pid + start time); atomic replace, so a
                         reader sees a whole file
    ``cancel``           present once a cancel was requested
    ``supervisor.log``   the supervisor's own log
    ``tasks/task-00000.log``  each task's output, every attempt appended

Secrets (the import token) reach the supervisor through its stdin, never through these files.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offbatch.backends.base import JobEvent, JobState, JobStatus, TaskState, TaskStatus
from offbatch.backends.local.processes import ProcessId

# A supervisor refreshes its heartbeat every loop; older than this and not finished = it died.
HEARTBEAT_STALE_SECONDS = 30.0
# A supervisor handed a job saves its first heartbeat within milliseconds; this leaves room for a
# machine under heavy load before the job is presumed orphaned (see JobRecord.supervisor_gone).
SUPERVISOR_START_GRACE_SECONDS = 60.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class TaskRecord:
    index: int
    state: str = TaskState.PENDING.value
    attempts: int = 0  # since the latest resume: what the retry budget counts
    attempts_before_resume: int = 0
    preemptions: int = 0
    exit_code: int | None = None
    reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    run_seconds: float = 0.0  # of finished attempts
    attempt_started_at: str | None = None  # of the attempt running now
    # The running attempt's process (pid + start time, so a reused pid is never mistaken for
    # it): kept while the task runs, so that its job can be taken over if the supervisor dies.
    pid: int | None = None
    pid_started: int | None = None

    def process(self) -> ProcessId | None:
        return ProcessId(self.pid, self.pid_started) if self.pid else None

    def to_status(self) -> TaskStatus:
        run_seconds = self.run_seconds
        if self.state == TaskState.RUNNING.value and self.attempt_started_at:
            run_seconds += max(0.0, (datetime.now(UTC) - _dt(self.attempt_started_at)).total_seconds())
        return TaskStatus(
            index=self.index,
            state=TaskState(self.state),
            attempts=self.attempts + self.attempts_before_resume,
            attempts_before_resume=self.attempts_before_resume,
            exit_code=self.exit_code,
            reason=self.reason,
            started_at=_dt(self.started_at),
            finished_at=_dt(self.finished_at),
            run_seconds=run_seconds,
        )


@dataclass
class JobRecord:
    job_id: str
    state: str = JobState.QUEUED.value
    reason: str | None = None
    created_at: str = field(default_factory=now_iso)
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat: str | None = None
    supervisor_pid: int | None = None
    supervisor_started: int | None = None
    tasks: list[TaskRecord] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, description: str, state: str | None = None) -> None:
        self.events.append({"time": now_iso(), "description": description, "state": state})

    def supervisor(self) -> ProcessId | None:
        return ProcessId(self.supervisor_pid, self.supervisor_started) if self.supervisor_pid else None

    def supervisor_gone(self) -> str | None:
        """Why this unfinished job's supervisor is known to be gone, or None (finished job, or alive).

        Gone means its process (pid + start time) has ended, or its heartbeat is older than
        ``HEARTBEAT_STALE_SECONDS`` (a hung supervisor, or a system without /proc), or it never
        wrote one: ``submit``/``resume`` write their event just before handing the job over, and a
        supervisor saves within milliseconds of taking it, so no heartbeat
        ``SUPERVISOR_START_GRACE_SECONDS`` after that event means it died first.
        """
        if JobState(self.state).is_finished():
            return None
        if self.heartbeat is None:
            if not self.events:
                return None
            waited = (datetime.now(UTC) - _dt(self.events[-1]["time"])).total_seconds()
            if waited > SUPERVISOR_START_GRACE_SECONDS:
                return f"the local supervisor never took the job (no heartbeat {waited:.0f}s after it was handed over)"
            return None
        supervisor = self.supervisor()
        if supervisor is not None and not supervisor.alive():
            return f"the local supervisor (pid {supervisor.pid}) stopped"
        age = (datetime.now(UTC) - datetime.fromisoformat(self.heartbeat)).total_seconds()
        if age > HEARTBEAT_STALE_SECONDS:
            return f"the local supervisor stopped (no heartbeat for {age:.0f}s)"
        return None

    def to_status(self) -> JobStatus:
        return JobStatus(
            job_id=self.job_id,
            state=JobState(self.state),
            tasks=[t.to_status() for t in self.tasks],
            created_at=_dt(self.created_at),
            started_at=_dt(self.started_at),
            finished_at=_dt(self.finished_at),
            reason=self.reason,
            events=[
                JobEvent(time=_dt(e["time"]), description=e["description"], state=JobState(e["state"]) if e["state"] else None)
                for e in self.events
            ],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        tasks = [TaskRecord(**t) for t in data.pop("tasks", [])]
        return cls(tasks=tasks, **data)


class JobDir:
    def __init__(self, root: Path, job_id: str) -> None:
        self.job_id = job_id
        self.path = root / job_id
        self.spec = self.path / "spec.json"
        self.state = self.path / "state.json"
        self.cancel_marker = self.path / "cancel"
        self.supervisor_log = self.path / "supervisor.log"
        self.tasks_dir = self.path / "tasks"

    def task_log(self, index: int) -> Path:
        return self.tasks_dir / f"task-{index:05d}.log"

    def exists(self) -> bool:
        return self.state.exists()

    def read(self) -> JobRecord:
        return JobRecord.from_dict(json.loads(self.state.read_text()))

    def write(self, record: JobRecord) -> None:
        write_json_atomic(self.state, asdict(record))


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
