"""The supervisor of one local job: a detached process that runs its tasks to the end.

It outlives the command that launched the job, like a Google Batch job outlives ``gcloud``.
It runs ``task_count`` tasks, at most ``parallelism`` at once, and applies Google Batch's rules:

| task outcome | what happens |
|---|---|
| exit 0 | SUCCEEDED |
| any other exit once its output part exists (written atomically: the shard is done) | SUCCEEDED |
| exit ``EXIT_BAD_INPUT`` (3) | FAILED at once, no retry (retrying cannot fix bad input) |
| killed by a SIGTERM the supervisor did not send | preemption: reported as exit 50001 (Google's code for a preempted VM, whose tasks get SIGTERM) and retried without spending a retry (up to ``MAX_PREEMPTIONS``) |
| other exit, or killed | retried while attempts <= ``max_retry_count``, then FAILED |
| running past ``max_run_duration`` | killed, exit ``EXIT_TIMEOUT`` (50005), then as a failure |
| cancel requested | running tasks stopped (SIGTERM, then SIGKILL), the job CANCELLED |

The job ends SUCCEEDED when every task succeeded, FAILED (with the first failure's reason)
otherwise. Each running task's process (pid + start time) is kept in ``state.json``, so that
if this supervisor dies its job can be read, cancelled and resumed without it (``takeover.py``).
Started as ``python -m offbatch.backends.local.supervisor LOG TASK_COMMAND`` (possibly before
the job exists, see the backend) with its instructions (the job folder, the worker env, which
holds the import token) as JSON on stdin.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from offbatch.backends.base import JobState, TaskState
from offbatch.backends.local import spawn
from offbatch.backends.local.environment import task_environment
from offbatch.backends.local.processes import ProcessId, start_time, wait_for_exit
from offbatch.backends.local.state import JobDir, now_iso
from offbatch.backends.local.takeover import finished_parts
from offbatch.contract import (
    EXIT_BAD_INPUT,
    EXIT_PREEMPTED,
    EXIT_TIMEOUT,
    OUTPUT_URL,
    TASK_COUNT,
    TASK_INDEX,
)

POLL_SECONDS = 0.1
HEARTBEAT_SECONDS = 2.0
KILL_GRACE_SECONDS = 5.0
MAX_PREEMPTIONS = 10


@dataclass
class Running:
    index: int
    process: spawn.TaskProcess
    started: float
    log: IO[bytes]
    timed_out: bool = False
    term_sent_at: float | None = None


class Supervisor:
    def __init__(self, job_dir: JobDir, instructions: dict[str, Any]) -> None:
        self.dir = job_dir
        self.env: dict[str, str] = instructions["env"]
        self.command: list[str] = instructions["command"]
        self.task_count: int = instructions["task_count"]
        self.parallelism: int = instructions["parallelism"]
        self.max_retry_count: int = instructions["max_retry_count"]
        self.max_run_duration: float = instructions["max_run_duration"]
        self.record = job_dir.read()
        self.running: dict[int, Running] = {}
        self.last_write = 0.0

    # -- state -------------------------------------------------------------------------------
    def save(self) -> None:
        self.record.heartbeat = now_iso()
        self.dir.write(self.record)
        self.last_write = time.monotonic()

    def set_job_state(self, state: JobState, description: str, reason: str | None = None) -> None:
        self.record.state = state.value
        if reason is not None:
            self.record.reason = reason
        self.record.event(description, state.value)
        if state.is_finished():
            self.record.finished_at = now_iso()
        self.save()

    # -- tasks -------------------------------------------------------------------------------
    def task_env(self, index: int, attempt: int) -> dict[str, str]:
        # An allow-list of this process's environment, never all of it (environment.py).
        env = task_environment(os.environ, self.env)
        env[TASK_INDEX] = str(index)
        env[TASK_COUNT] = str(self.task_count)
        env["BATCH_TASK_RETRY_ATTEMPT"] = str(attempt)
        return env

    def start(self, index: int) -> None:
        task = self.record.tasks[index]
        # 0-based run number, as Google's BATCH_TASK_RETRY_ATTEMPT (preemptions count here).
        attempt = task.attempts + task.preemptions
        task.attempts += 1
        task.state = TaskState.RUNNING.value
        task.started_at = task.started_at or now_iso()
        task.attempt_started_at = now_iso()
        task.exit_code = None
        self.dir.tasks_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.dir.task_log(index), "ab")  # noqa: SIM115 - closed when the task ends
        log.write(f"=== {now_iso()} task {index} attempt {task.attempts} ===\n".encode())
        log.flush()
        process = spawn.start(self.command, env=self.task_env(index, attempt), log=log)
        self.running[index] = Running(index=index, process=process, started=time.monotonic(), log=log)
        # Named by pid + start time in state.json, so that if this supervisor dies the task can
        # be found (and told apart from a later process with its pid): takeover.py.
        task.pid, task.pid_started = process.pid, start_time(process.pid)
        # One event per task start; the first one is also the job's move to RUNNING.
        description = f"task {index} started (attempt {task.attempts})"
        if self.record.state != JobState.RUNNING.value:
            self.record.started_at = self.record.started_at or now_iso()
            self.set_job_state(JobState.RUNNING, description)
        else:
            self.record.event(description)
            self.save()

    def finish(self, run: Running, exit_code: int, pending: deque[int]) -> None:
        task = self.record.tasks[run.index]
        elapsed = time.monotonic() - run.started
        task.run_seconds += elapsed
        task.exit_code = exit_code
        task.pid = task.pid_started = None
        run.log.write(f"=== {now_iso()} exit code {exit_code} after {elapsed:.1f}s ===\n".encode())
        run.log.close()
        if exit_code == 0:
            task.state, task.reason = TaskState.SUCCEEDED.value, None
        elif exit_code != EXIT_PREEMPTED and run.index in finished_parts(self.env.get(OUTPUT_URL), [run.index]):
            # Its output part is whole (written atomically) although it exited badly afterwards
            # (e.g. killed while notifying): the shard is done, a rerun would redo nothing.
            task.state, task.reason = TaskState.SUCCEEDED.value, None
            self.record.event(f"task {run.index} exited {exit_code} after writing its output part: done")
        elif exit_code == EXIT_PREEMPTED and task.preemptions < MAX_PREEMPTIONS:
            task.preemptions += 1
            task.attempts -= 1  # preemption does not spend a retry
            task.state, task.reason = TaskState.PENDING.value, "preempted; retrying"
            pending.appendleft(run.index)
        else:
            if run.timed_out:
                reason = f"task {run.index} exceeded max_run_duration ({self.max_run_duration:.0f}s)"
            elif exit_code == EXIT_BAD_INPUT:
                reason = (f"task {run.index} failed on bad input or environment (exit {exit_code}; not retried): "
                          f"see offbatch logs {self.dir.job_id} --task {run.index}")
            elif exit_code < 0:
                reason = f"task {run.index} was killed by signal {-exit_code}"
            else:
                reason = f"task {run.index} failed with exit code {exit_code}"
            retryable = exit_code != EXIT_BAD_INPUT and task.attempts <= self.max_retry_count
            if retryable:
                task.state, task.reason = TaskState.PENDING.value, f"{reason}; retrying"
                pending.append(run.index)
            else:
                task.state, task.reason = TaskState.FAILED.value, reason
        if TaskState(task.state).is_finished():
            task.finished_at = now_iso()
        self.save()

    def stop(self, run: Running, now: float) -> None:
        """SIGTERM the task's process group, SIGKILL it after a grace period."""
        try:
            if run.term_sent_at is None:
                os.killpg(run.process.pid, signal.SIGTERM)
                run.term_sent_at = now
            elif now - run.term_sent_at > KILL_GRACE_SECONDS:
                os.killpg(run.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self.record.supervisor_pid, self.record.supervisor_started = os.getpid(), start_time(os.getpid())
        pending = deque(t.index for t in self.record.tasks if t.state != TaskState.SUCCEEDED.value)
        for index in pending:
            self.record.tasks[index].state = TaskState.PENDING.value
        self.set_job_state(JobState.SCHEDULED, f"supervisor {os.getpid()} scheduled {len(pending)} task(s)")
        cancelling = False
        while pending or self.running:
            now = time.monotonic()
            if not cancelling and self.dir.cancel_marker.exists():
                cancelling = True
                self.set_job_state(JobState.CANCELLATION_IN_PROGRESS, "cancel requested")
                for index in pending:
                    self.record.tasks[index].state = TaskState.CANCELLED.value
                    self.record.tasks[index].reason = "job cancelled before the task ran"
                pending.clear()
            while not cancelling and pending and len(self.running) < self.parallelism:
                self.start(pending.popleft())
            for index, run in list(self.running.items()):
                if cancelling:
                    self.stop(run, now)
                elif not run.timed_out and now - run.started > self.max_run_duration:
                    run.timed_out = True
                    self.stop(run, now)
                elif run.timed_out:
                    self.stop(run, now)
                code = run.process.poll()
                if code is None:
                    continue
                del self.running[index]
                if cancelling:
                    task = self.record.tasks[index]
                    task.run_seconds += now - run.started
                    task.state, task.reason, task.finished_at = TaskState.CANCELLED.value, "job cancelled", now_iso()
                    task.pid = task.pid_started = None
                    run.log.close()
                    self.save()
                else:
                    if run.timed_out:
                        code = EXIT_TIMEOUT
                    elif code == -signal.SIGTERM:
                        code = EXIT_PREEMPTED
                    self.finish(run, code, pending)
            if time.monotonic() - self.last_write > HEARTBEAT_SECONDS:
                self.save()
            # Woken by a task's exit at once, else every POLL_SECONDS for cancels and time limits.
            wait_for_exit([ProcessId(run.process.pid, None) for run in self.running.values()], timeout=POLL_SECONDS)
        self.conclude(cancelling)

    def conclude(self, cancelled: bool) -> None:
        if cancelled:
            self.set_job_state(JobState.CANCELLED, "job cancelled", reason="cancelled by request")
            return
        failed = [t for t in self.record.tasks if t.state != TaskState.SUCCEEDED.value]
        if failed:
            self.set_job_state(JobState.FAILED, f"{len(failed)} task(s) failed", reason=failed[0].reason)
        else:
            self.set_job_state(JobState.SUCCEEDED, "all tasks succeeded", reason=None)


def main(argv: list[str]) -> int:
    """``supervisor.py LOG TASK_COMMAND_JSON``, the job's instructions on stdin (see the backend).

    The worker is imported first (``spawn.preload``), while the launch that started this
    process is still extracting; then this waits for the job. No job (stdin closed empty): the
    launch submitted nothing, and this exits.
    """
    log = Path(argv[1])
    spawn.preload(json.loads(argv[2]))  # once, so that tasks forked from here start warm
    data = sys.stdin.read()
    if not data:
        log.unlink(missing_ok=True)
        return 0
    instructions = json.loads(data)
    path = Path(instructions["job_dir"])
    job_dir = JobDir(path.parent, path.name)
    _log_into(job_dir.supervisor_log, log)
    supervisor = Supervisor(job_dir, instructions)
    # A SIGTERM to the supervisor (e.g. `kill`) is a cancel request: tasks are stopped cleanly.
    signal.signal(signal.SIGTERM, lambda *_: job_dir.cancel_marker.touch())
    try:
        supervisor.run()
    except Exception as e:  # the job must end in a state, whatever broke here
        supervisor.set_job_state(JobState.FAILED, "supervisor crashed", reason=f"local supervisor crashed: {e!r}")
        raise
    return 0


def _log_into(job_log: Path, log: Path) -> None:
    """From now on write to the job's ``supervisor.log``, after what was written before the job came."""
    sys.stdout.flush()
    sys.stderr.flush()
    with open(job_log, "ab") as f:
        f.write(log.read_bytes())
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    log.unlink(missing_ok=True)


if __name__ == "__main__":
    code = main(sys.argv)
    # The job's end is written; skip the interpreter's teardown of pyarrow, pydantic and the
    # engine (0.1-0.3 s), so that a follower waiting on this process (LocalBackend.wait) sees
    # the end at once. Nothing is left to clean up: task logs are closed, state.json is replaced.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
