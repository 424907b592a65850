"""LocalBackend: submit starts a detached supervisor; status/logs/cancel read and write its folder.

The supervisor is a Python process that imports the worker once, so its start-up (~0.3 s of
CPU) is on the path of every job. Inside ``prepared()`` (a launch) it is started ahead of the
job and waits for it on stdin, so that its start-up overlaps the launch's own imports and
extraction; ``submit`` hands it the job, or starts one then if none is waiting.

State lives under ``$OFFBATCH_HOME/local-backend/<job_id>/`` (see ``state.py``), so any process
on the machine can follow a job. The ``ref`` of a local job is its id. A job whose supervisor
died is read, cancelled and resumed by the rules of ``takeover.py``: ``cancel`` then stops the
tasks itself (and blocks until they have exited), ``resume`` stops orphans before rerunning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from offbatch import contract
from offbatch.backends.base import Backend, JobSpec, JobState, JobStatus, TaskState
from offbatch.backends.local import takeover
from offbatch.backends.local.environment import inherited
from offbatch.backends.local.processes import wait_for_exit
from offbatch.backends.local.state import JobDir, JobRecord, TaskRecord, now_iso, write_json_atomic
from offbatch.config import JobConfig
from offbatch.errors import BackendError, ConfigError, NotFoundError
from offbatch.settings import Settings

# What a local task runs: the same entry point as the container image.
DEFAULT_TASK_COMMAND = (sys.executable, "-m", "offbatch", "run-task")
FOLLOW_POLL_SECONDS = 0.5


class LocalBackend(Backend):
    name = "local"

    def __init__(self, settings: Settings, *, task_command: list[str] | None = None) -> None:
        super().__init__(settings)
        self.root = settings.home_dir / "local-backend"
        self.task_command = list(task_command or DEFAULT_TASK_COMMAND)
        self._waiting: _Started | None = None  # a supervisor started by prepared(), no job yet

    @contextmanager
    def prepared(self) -> Iterator[None]:
        """Start a supervisor now; ``submit`` in this block hands it the job. On leaving, one
        that got no job is told so (its stdin closes) and exits; so it does if this process dies."""
        try:
            self._waiting = self._spawn_supervisor()
        except OSError:
            # Only a head start: submit starts one itself, and reports what stops it.
            self._waiting = None
        try:
            yield
        finally:
            waiting, self._waiting = self._waiting, None
            if waiting is not None:
                waiting.release()

    def validate(self, config: JobConfig) -> None:
        if config.location != "local":
            raise ConfigError(
                f"the local backend runs configs with location 'local', not {config.location!r}",
                hint="use the job type's local config, or --backend google-batch",
            )

    def describe(self, spec: JobSpec) -> dict[str, Any]:
        return {
            "backend": self.name,
            "job_id": spec.job_id,
            "command": self.task_command,
            "task_count": spec.config.task_count,
            "parallelism": spec.config.parallelism,
            "max_retry_count": spec.config.max_retry_count,
            "max_run_duration_s": spec.config.max_run_duration,
            "env": spec.redacted_env(),
            "labels": spec.labels,
        }

    def _dir(self, ref: str) -> JobDir:
        if not ref or "/" in ref or ref.startswith("."):
            raise NotFoundError(f"no local job {ref!r}")
        return JobDir(self.root, ref)

    def submit(self, spec: JobSpec) -> str:
        job_dir = self._dir(spec.job_id)
        if job_dir.path.exists():
            raise BackendError(f"a local job named {spec.job_id!r} already exists")
        job_dir.path.mkdir(parents=True)
        write_json_atomic(job_dir.spec, {**self.describe(spec), "job_type": spec.job_type})
        record = JobRecord(job_id=spec.job_id, tasks=[TaskRecord(index=i) for i in range(spec.config.task_count)])
        record.event("job submitted", JobState.QUEUED.value)
        job_dir.write(record)
        self._start_supervisor(job_dir, spec)
        return spec.job_id

    def resume(self, ref: str, spec: JobSpec) -> None:
        """Run the job's unfinished tasks again (finished shards are kept).

        A job whose supervisor is gone is taken over first: its orphan tasks are stopped, so two
        processes never work on one shard, and tasks whose output part exists count as done.
        """
        job_dir = self._dir(ref)
        record = self._read(job_dir)
        gone = record.supervisor_gone()
        if not JobState(record.state).is_finished() and gone is None:
            raise BackendError(f"job {ref} is still {record.state}; cancel it or wait before resuming")
        if gone is not None:
            stopped = takeover.stop_all(record)
            record.event(f"{gone}; resume stopped {stopped} orphan task(s)" if stopped else gone)
        job_dir.cancel_marker.unlink(missing_ok=True)
        redo = [t.index for t in record.tasks if t.state != TaskState.SUCCEEDED.value]
        done = takeover.finished_parts(spec.env.get(contract.OUTPUT_URL), redo)
        for task in record.tasks:
            task.pid = task.pid_started = None
            if task.index in done:
                task.state, task.reason, task.exit_code = TaskState.SUCCEEDED.value, None, 0
                task.finished_at = task.finished_at or now_iso()
            elif task.state != TaskState.SUCCEEDED.value:
                task.state, task.reason, task.exit_code, task.finished_at = TaskState.PENDING.value, None, None, None
                task.attempts_before_resume += task.attempts
                task.attempts = task.preemptions = 0
        record.state, record.reason, record.finished_at, record.heartbeat = JobState.QUEUED.value, None, None, None
        record.supervisor_pid = record.supervisor_started = None
        record.event("job resumed" + (f"; output parts of task(s) {sorted(done)} found" if done else ""),
                     JobState.QUEUED.value)
        job_dir.write(record)
        self._start_supervisor(job_dir, spec)

    def _start_supervisor(self, job_dir: JobDir, spec: JobSpec) -> None:
        instructions = {
            "job_dir": str(job_dir.path),
            "env": spec.env,
            "command": self.task_command,
            "task_count": spec.config.task_count,
            "parallelism": spec.config.parallelism,
            "max_retry_count": spec.config.max_retry_count,
            "max_run_duration": spec.config.max_run_duration,
        }
        # The env (with the import token) travels through the pipe, never through a file.
        payload = json.dumps(instructions).encode()
        waiting, self._waiting = self._waiting, None
        for started in (waiting, None):
            started = started or self._spawn_supervisor()
            if started.hand_over(payload):
                return
            # It exited before its job came (e.g. its imports failed): keep what it said.
            started.move_log(job_dir.supervisor_log)
        raise BackendError(f"the local supervisor of {job_dir.job_id} exited before it got the job",
                           hint=f"see {job_dir.supervisor_log}")

    def _spawn_supervisor(self) -> _Started:
        self.root.mkdir(parents=True, exist_ok=True)
        # Its log until it gets a job: then it appends this to the job's supervisor.log.
        log_path = self.root / f".supervisor-{uuid.uuid4().hex}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "offbatch.backends.local.supervisor", str(log_path),
                 json.dumps(self.task_command)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the launching command and its Ctrl-C
                env=inherited(os.environ),  # not the launching shell's secrets (environment.py)
            )
        return _Started(process, log_path)

    def _read(self, job_dir: JobDir) -> JobRecord:
        if not job_dir.exists():
            raise NotFoundError(f"no local job {job_dir.job_id!r}")
        try:
            return job_dir.read()
        except (OSError, json.JSONDecodeError) as e:
            raise BackendError(f"cannot read the state of local job {job_dir.job_id}: {e}") from e

    def status(self, ref: str) -> JobStatus:
        return self._current(self._dir(ref)).to_status()

    def wait(self, ref: str, *, timeout: float) -> None:
        """Wait on the job's supervisor process itself: it exits once the job has ended, so this
        returns within microseconds of the end (``processes.wait_for_exit``), not at the next poll."""
        try:
            record = self._dir(ref).read()
        except (NotFoundError, OSError, ValueError, TypeError):
            record = None
        supervisor = record.supervisor() if record is not None else None
        if supervisor is None or JobState(record.state).is_finished() or not supervisor.alive():
            time.sleep(timeout)  # not started yet, or nothing left to wait on
            return
        wait_for_exit([supervisor], timeout=timeout)

    def _current(self, job_dir: JobDir) -> JobRecord:
        """The job's record, or what it amounts to if its supervisor is gone (takeover.py)."""
        record = self._read(job_dir)
        gone = record.supervisor_gone()
        if gone is None:
            return record
        return takeover.derived(record, gone=gone, output_url=self._output_url(job_dir),
                                cancel_requested=job_dir.cancel_marker.exists())

    def _output_url(self, job_dir: JobDir) -> str | None:
        try:
            return takeover.output_url_of(json.loads(job_dir.spec.read_text()))
        except (OSError, json.JSONDecodeError):
            return None

    def cancel(self, ref: str) -> None:
        """Ask the supervisor to stop the job; if it is gone, stop the job's tasks here (blocks
        until they have exited, at most ``takeover.STOP_GRACE_SECONDS`` plus the SIGKILL)."""
        job_dir = self._dir(ref)
        record = self._read(job_dir)
        if JobState(record.state).is_finished():
            return
        job_dir.cancel_marker.touch()
        gone = record.supervisor_gone()
        if gone is None:
            return  # the supervisor stops the tasks and writes CANCELLED
        stopped = takeover.stop_all(record)
        takeover.settle(record, output_url=self._output_url(job_dir), cancelled=True, reason="cancelled by request")
        record.event(f"cancel requested; {gone}, so cancel stopped its {stopped} running task(s)", record.state)
        job_dir.write(record)

    def list(self) -> list[JobStatus]:
        if not self.root.exists():
            return []
        out = []
        for path in sorted(self.root.iterdir()):
            job_dir = JobDir(self.root, path.name)
            if job_dir.exists():
                out.append(self._current(job_dir).to_status())
        return out

    def logs(self, ref: str, *, task: int | None = None, follow: bool = False) -> Iterator[str]:
        job_dir = self._dir(ref)
        record = self._read(job_dir)
        indexes = [task] if task is not None else [t.index for t in record.tasks]
        for index in indexes:
            if index < 0 or index >= len(record.tasks):
                raise NotFoundError(f"job {ref} has no task {index} (it has {len(record.tasks)})")
        if not follow:
            for index in indexes:
                yield from _read_lines(job_dir.task_log(index), prefix=f"[task {index}] " if task is None else "")
            return
        offsets = dict.fromkeys(indexes, 0)
        while True:
            finished = self.status(ref).state.is_finished()
            for index in indexes:
                path = job_dir.task_log(index)
                if not path.exists():
                    continue
                with open(path, "rb") as f:
                    f.seek(offsets[index])
                    data = f.read()
                # Only whole lines; a partial last line waits for the next poll.
                cut = data.rfind(b"\n") + 1
                offsets[index] += cut
                prefix = f"[task {index}] " if task is None else ""
                for line in data[:cut].decode(errors="replace").splitlines():
                    yield prefix + line
            if finished:
                return
            time.sleep(FOLLOW_POLL_SECONDS)


class _Started:
    """A supervisor process waiting for its job's instructions on stdin."""

    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process, self.log_path = process, log_path

    def hand_over(self, payload: bytes) -> bool:
        """Write the job's instructions and close stdin; False if the process already exited."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(payload)
            self.process.stdin.close()
        except BrokenPipeError:
            return False
        return True

    def release(self) -> None:
        """No job for it: close its stdin, and it exits (removing its log)."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def move_log(self, target: Path) -> None:
        self.process.wait()
        try:
            text = self.log_path.read_bytes()
        except FileNotFoundError:
            return
        with open(target, "ab") as f:
            f.write(text)
        self.log_path.unlink(missing_ok=True)


def _read_lines(path: Path, *, prefix: str) -> Iterator[str]:
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            yield prefix + line.decode(errors="replace").rstrip("\n")
