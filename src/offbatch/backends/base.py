"""The backend contract: where a job's tasks run.

States follow Google Cloud Batch. A backend keeps its state where another process can read it
(``status`` from a second shell works while the job runs).

| method | blocks? | idempotent? | raises |
|---|---|---|---|
| ``submit(spec)`` | until the backend accepted the job | no (a second submit of the same id is a BackendError) | BackendError |
| ``status(ref)`` | no | yes | NotFoundError, BackendError |
| ``logs(ref, task, follow)`` | only with ``follow``, until the job finishes | yes | NotFoundError |
| ``cancel(ref)`` | no: the job goes CANCELLATION_IN_PROGRESS then CANCELLED | yes (cancelling a finished job does nothing) | NotFoundError |
| ``list()`` | no | yes | BackendError |
| ``describe(spec)`` | no (nothing is sent) | yes | ConfigError |
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from offbatch.contract import REDACTED, SECRET_VARIABLES

if TYPE_CHECKING:
    from offbatch.config import JobConfig
    from offbatch.settings import Settings


class JobState(StrEnum):
    QUEUED = "QUEUED"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLATION_IN_PROGRESS = "CANCELLATION_IN_PROGRESS"
    CANCELLED = "CANCELLED"
    DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"

    def is_finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class TaskState(StrEnum):
    PENDING = "PENDING"
    ASSIGNED = "ASSIGNED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNEXECUTED = "UNEXECUTED"

    def is_finished(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.UNEXECUTED)


@dataclass
class TaskStatus:
    index: int
    state: TaskState
    # Every attempt the task has made, those before a resume included (preemptions excluded).
    attempts: int = 0
    # The part of ``attempts`` made before the job's latest resume (a resume resets the retry budget).
    attempts_before_resume: int = 0
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Seconds of every attempt added up, the running one up to now: what the task cost so far.
    run_seconds: float = 0.0


@dataclass
class JobEvent:
    time: datetime
    description: str
    state: JobState | None = None


@dataclass
class JobStatus:
    job_id: str
    state: JobState
    tasks: list[TaskStatus] = field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None
    events: list[JobEvent] = field(default_factory=list)

    def task_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for task in self.tasks:
            counts[task.state.value] = counts.get(task.state.value, 0) + 1
        return counts

    @property
    def run_seconds(self) -> float:
        return sum(t.run_seconds for t in self.tasks)


@dataclass(frozen=True)
class JobSpec:
    """Everything a backend needs to run a job; ``env`` holds the worker contract."""

    job_id: str
    job_type: str
    config: JobConfig
    env: dict[str, str]
    labels: dict[str, str]

    def redacted_env(self) -> dict[str, str]:
        return {k: (REDACTED if k in SECRET_VARIABLES else v) for k, v in self.env.items()}


class Backend(ABC):
    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def validate(self, config: JobConfig) -> None:
        """Backend-specific checks of a config (ConfigError naming the field)."""

    def preflight(self, spec: JobSpec) -> list[str]:
        """Problems that would make ``submit`` fail or the job unable to run (e.g. storage the
        tasks cannot reach). ``launch`` refuses on them before extracting; ``--dry-run`` lists them."""
        return []

    def prepared(self) -> contextlib.AbstractContextManager[None]:
        """A block in which a ``submit`` is likely (a launch extracting its input): the backend
        may start now what ``submit`` will need, so that its start-up overlaps the launch's own
        work. Leaving the block releases whatever ``submit`` did not use. Default: nothing."""
        return contextlib.nullcontext()

    @abstractmethod
    def describe(self, spec: JobSpec) -> dict[str, Any]:
        """The request that ``submit`` would send, as JSON-able data, secrets redacted."""

    @abstractmethod
    def submit(self, spec: JobSpec) -> str:
        """Start the job; return the backend's reference for it (stored with the job)."""

    @abstractmethod
    def status(self, ref: str) -> JobStatus: ...

    def wait(self, ref: str, *, timeout: float) -> None:
        """Block up to ``timeout`` seconds between two looks at a job's status; return early
        when the job may just have finished, so a follower (``launch --wait``) sees its end at
        once. Never raises for a job it cannot watch. Default: sleep ``timeout``."""
        time.sleep(timeout)

    @abstractmethod
    def logs(self, ref: str, *, task: int | None = None, follow: bool = False) -> Iterator[str]: ...

    @abstractmethod
    def cancel(self, ref: str) -> None: ...

    @abstractmethod
    def list(self) -> list[JobStatus]: ...
