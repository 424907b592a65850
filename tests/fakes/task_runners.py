"""How the fake Batch service runs a task: scripted exit codes, or a real local subprocess.

A runner is a callable ``runner(run: TaskRun) -> int`` returning the attempt's exit code. It
writes output through ``run.log(line)`` (served as Cloud Logging entries) and must return soon
after ``run.cancelled`` is set. Batch's reserved codes: 50001 preempted, 50005 timed out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

EXIT_MAX_RUN_DURATION = 50005
EXIT_CANCELLED = 50007  # never reported: a cancelled attempt is not a task result


@dataclass
class TaskRun:
    """One attempt of one task, as the VM agent would start it."""

    index: int
    count: int
    attempt: int
    image_uri: str
    entrypoint: str
    commands: list[str]
    env: dict[str, str]
    timeout_s: float | None
    log: Callable[[str], None]
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass
class ScriptedRunner:
    """Exit codes by task index, one per attempt (the last repeats); unlisted tasks exit 0.

    ``ScriptedRunner({1: [50001, 0]})``: task 1 is preempted once, then succeeds.
    """

    exit_codes: Mapping[int, Sequence[int]] = field(default_factory=dict)
    default: int = 0
    runs: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, run: TaskRun) -> int:
        self.runs.append((run.index, run.attempt))
        codes = list(self.exit_codes.get(run.index, [self.default]))
        code = codes[min(run.attempt, len(codes) - 1)]
        run.log(f"task {run.index} attempt {run.attempt} of {run.count}: exit {code}")
        return code


@dataclass
class BlockingRunner:
    """Tasks run until ``release`` is set (or the attempt is cancelled): for RUNNING/cancel tests."""

    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def __call__(self, run: TaskRun) -> int:
        run.log(f"task {run.index} started")
        self.started.set()
        while not (self.release.is_set() or run.cancelled.is_set()):
            run.cancelled.wait(0.01)
        return EXIT_CANCELLED if run.cancelled.is_set() else 0


def default_entrypoints() -> dict[str, list[str]]:
    """The image's entry point run from this checkout: ``offbatch`` is ``python -m offbatch``."""
    return {"offbatch": [sys.executable, "-m", "offbatch"]}


@dataclass
class SubprocessRunner:
    """Runs the container's command as a local process with the request's environment.

    The image is not pulled: ``entrypoints`` maps the container's entry point to a local argv
    (``offbatch run-task`` becomes ``python -m offbatch run-task``). The process gets this
    process's environment (PATH, PYTHONPATH) plus the request's variables plus what Batch sets
    itself (``BATCH_TASK_INDEX``, ``BATCH_TASK_COUNT``, ``BATCH_TASK_RETRY_ATTEMPT``).
    """

    entrypoints: dict[str, list[str]] = field(default_factory=default_entrypoints)
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    def argv(self, run: TaskRun) -> list[str]:
        if run.entrypoint:
            head = self.entrypoints.get(run.entrypoint, [run.entrypoint])
            return [*head, *run.commands]
        return list(run.commands)

    def __call__(self, run: TaskRun) -> int:
        env = {**os.environ, **self.extra_env, **run.env}
        env.update(
            BATCH_TASK_INDEX=str(run.index), BATCH_TASK_COUNT=str(run.count), BATCH_TASK_RETRY_ATTEMPT=str(run.attempt)
        )
        proc = subprocess.Popen(
            self.argv(run), env=env, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        reader = threading.Thread(target=self._pump, args=(proc, run), daemon=True)
        reader.start()
        deadline = time.monotonic() + run.timeout_s if run.timeout_s else None
        timed_out = False
        while proc.poll() is None:
            if run.cancelled.wait(0.02):
                proc.kill()
                break
            if deadline is not None and time.monotonic() > deadline:
                timed_out = True
                proc.kill()
                break
        code = proc.wait()
        reader.join(timeout=5)
        if run.cancelled.is_set():
            return EXIT_CANCELLED
        return EXIT_MAX_RUN_DURATION if timed_out else code

    @staticmethod
    def _pump(proc: subprocess.Popen[str], run: TaskRun) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            run.log(line.rstrip("\n"))
