"""A local job whose supervisor is gone (killed, crashed, the machine's session ended).

Its tasks run in their own sessions and outlive the supervisor, so such a job may still have
*orphans*: task processes (named by pid + start time in ``state.json``) still at work. Three
rules follow:

| who | what it does |
|---|---|
| ``status`` (any reader) | derives the job's state without writing: RUNNING (CANCELLATION_IN_PROGRESS after a cancel) while orphans run; then each unfinished task whose output part exists is SUCCEEDED, and the job SUCCEEDED if all are, else CANCELLED after a cancel, FAILED otherwise |
| ``cancel`` | stops the orphans itself (SIGTERM, SIGKILL after a grace period), then writes CANCELLED |
| ``resume`` | stops the orphans (their finished chunks are kept by the worker), counts tasks whose output part exists as done, reruns the rest under a new supervisor |

A finished output part is what counts, not the exit code nobody could collect: the part is
written atomically, so it exists only if its shard finished.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from offbatch import contract
from offbatch.backends.base import JobState, TaskState
from offbatch.backends.local.processes import ProcessId, kill, stop_groups
from offbatch.backends.local.state import JobRecord, now_iso
from offbatch.errors import StorageError

# How long stopped orphans get to exit on SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Orphans:
    """The tasks of a job without a supervisor that are still running, by index."""

    running: dict[int, ProcessId]

    @classmethod
    def of(cls, record: JobRecord) -> Orphans:
        running = {}
        for task in record.tasks:
            process = task.process()
            if task.state == TaskState.RUNNING.value and process is not None and process.alive():
                running[task.index] = process
        return cls(running)

    def stop(self, *, grace: float = STOP_GRACE_SECONDS) -> int:
        """Stop every orphan (and its process group); return how many were running."""
        return len(stop_groups(list(self.running.values()), grace=grace))


def stop_all(record: JobRecord, *, grace: float = STOP_GRACE_SECONDS) -> int:
    """Stop what is left of a job whose supervisor is gone: a hung supervisor, then its orphan
    tasks. Returns the number of orphans stopped."""
    supervisor = record.supervisor()
    if supervisor is not None:
        kill(supervisor)  # SIGKILL: a SIGTERM would make it request a cancel of its own
    return Orphans.of(record).stop(grace=grace)


def finished_parts(output_url: str | None, indexes: list[int]) -> set[int]:
    """The task indexes among ``indexes`` whose output part exists under ``output_url``."""
    if not output_url:
        return set()
    # Imported here: fsspec costs the supervisor ~0.5 s of start-up, and it needs it only when a
    # task fails (and cancel/resume/status only once a supervisor is gone).
    from offbatch import storage

    done = set()
    for index in indexes:
        try:
            if storage.exists(storage.part_url(output_url, index)):
                done.add(index)
        except StorageError:
            pass  # unreachable storage proves nothing: the task counts as unfinished
    return done


def unfinished(record: JobRecord) -> list[int]:
    return [t.index for t in record.tasks if not TaskState(t.state).is_finished()]


def derived(record: JobRecord, *, gone: str, output_url: str | None, cancel_requested: bool) -> JobRecord:
    """What ``record`` (of a job whose supervisor is ``gone``) amounts to now; nothing is written."""
    view = copy.deepcopy(record)
    orphans = Orphans.of(view)
    if orphans.running:
        view.state = (JobState.CANCELLATION_IN_PROGRESS if cancel_requested else JobState.RUNNING).value
        view.reason = (f"{gone}; {len(orphans.running)} task(s) still running: "
                       f"offbatch cancel {view.job_id} stops them, offbatch resume {view.job_id} takes them over")
        return view
    settle(view, output_url=output_url, cancelled=cancel_requested,
           reason=f"{gone} before every task finished; run: offbatch resume {view.job_id}")
    return view


def settle(record: JobRecord, *, output_url: str | None, cancelled: bool, reason: str) -> None:
    """End ``record``'s job now that none of its tasks runs: finished parts count as done."""
    done = finished_parts(output_url, unfinished(record))
    now = now_iso()
    for task in record.tasks:
        if TaskState(task.state).is_finished():
            continue
        task.pid = task.pid_started = None
        if task.index in done:
            task.state, task.reason, task.exit_code = TaskState.SUCCEEDED.value, None, 0
        elif cancelled:
            task.state, task.reason = TaskState.CANCELLED.value, "job cancelled"
        else:
            ran = task.state == TaskState.RUNNING.value
            task.state = TaskState.FAILED.value
            task.reason = f"task {task.index} stopped without writing its output part" if ran else reason
        task.finished_at = task.finished_at or now
    if all(t.state == TaskState.SUCCEEDED.value for t in record.tasks):
        # Every shard was done before anything was cancelled: a cancel of a finished job does nothing.
        record.state, record.reason = JobState.SUCCEEDED.value, None
    elif cancelled:
        record.state, record.reason = JobState.CANCELLED.value, "cancelled by request"
    else:
        record.state, record.reason = JobState.FAILED.value, reason
    record.finished_at = record.finished_at or now


def output_url_of(spec: dict) -> str | None:
    """The job's output folder, from its ``spec.json`` (the worker env there is redacted, not this)."""
    return (spec.get("env") or {}).get(contract.OUTPUT_URL)
