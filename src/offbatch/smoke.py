"""The operator's smoke job: one task, a few rows, the real config and image, every check reported.

``offbatch smoke ingredients-spellcheck --backend google-batch`` is the first thing to run on a
new project or image. It submits a job with the job type's real config (image, machine, GPU,
engine) cut to one task, no retry and a few rows, whose worker runs in smoke mode
(``OFFBATCH_SMOKE=1``): it logs ``smoke step N <name>: ok|FAILED: ...`` for the image's lock,
``nvidia-smi``, the driver against torch's CUDA runtime, the model files, ``torch.cuda``, the
model load and one generation. This module follows the job to its end and reads those lines
back from the backend's logs (and the task's failure line from storage), so the operator sees
which step failed and why without opening the cloud console.

A smoke job has no database row and no webhook: nothing of it is ever imported.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from offbatch import contract, storage
from offbatch.backends import Backend, JobSpec, JobState, get_backend
from offbatch.config import JobConfig, load_config
from offbatch.engines import ENGINES
from offbatch.errors import BackendError, ConfigError, StorageError
from offbatch.extract import extract
from offbatch.jobs import JobType, get_job_type
from offbatch.launcher import new_job_id, worker_env
from offbatch.settings import Settings
from offbatch.storage import JobFolder

DEFAULT_ROWS = 3
# Model load and one generation: minutes on a GPU VM, plus its boot. Caps the config's duration.
MAX_RUN_SECONDS = 3600
# Cloud Logging delivers a task's last lines some seconds after the task ends.
LOG_GRACE_SECONDS = 60.0
LOG_TAIL_LINES = 15
STEP_LINE = re.compile(r"smoke step (\d+) (.+?): (ok|FAILED): (.*)$")


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    ok: bool
    detail: str


@dataclass
class SmokeRun:
    job_id: str
    backend: str
    ref: str
    folder: JobFolder
    config: JobConfig


@dataclass
class SmokeResult:
    run: SmokeRun
    state: JobState
    reason: str | None
    steps: list[Step] = field(default_factory=list)
    # The task's own one-line cause (bad input, exit 3), from storage.
    cause: str | None = None
    # The last lines of the task's log, shown when a step failed.
    log_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == JobState.SUCCEEDED and bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)


def smoke_config(config: JobConfig) -> JobConfig:
    """The job type's config cut to one task, one attempt and at most an hour."""
    return config.model_copy(update={
        "task_count": 1, "parallelism": 1, "max_retry_count": 0,
        "max_run_duration": min(config.max_run_duration, MAX_RUN_SECONDS),
    })


def submit(
    settings: Settings,
    *,
    job_type_name: str,
    backend_name: str | None = None,
    config_path=None,
    dataset: str | None = None,
    rows: int = DEFAULT_ROWS,
    backend: Backend | None = None,
) -> SmokeRun:
    """Extract ``rows`` products and submit the one-task smoke job; returns at once."""
    if rows < 1:
        raise ConfigError("--rows must be at least 1")
    job_type: JobType = get_job_type(job_type_name)
    backend_name = backend_name or settings.backend
    backend = backend or get_backend(backend_name, settings)
    path = config_path or job_type.config_path(backend_name)
    if config_path is None and not path.exists():
        raise ConfigError(f"job type {job_type.name!r} has no config for the {backend_name!r} backend")
    config = smoke_config(load_config(path))
    if config.engine not in ENGINES:
        raise ConfigError(f"invalid job config {path}: engine: unknown engine {config.engine!r}")
    backend.validate(config)

    job_id = new_job_id(f"smoke-{job_type.name}", now=datetime.now(UTC), suffix=secrets.token_hex(2))
    folder = JobFolder(settings.storage_root, job_type.name, job_id)
    # No webhook and no token: a smoke job's output is never imported.
    env = worker_env(settings=settings.model_copy(update={"api_url": None}), spec_config=config,
                     job_type=job_type, job_id=job_id, folder=folder, key=None)
    env[contract.SMOKE] = "1"
    spec = JobSpec(job_id=job_id, job_type=job_type.name, config=config, env=env,
                   labels={"offbatch-job-id": job_id, "offbatch-job-type": job_type.name, "offbatch-smoke": "1"})
    problems = backend.preflight(spec)
    if problems:
        raise ConfigError(f"cannot run a smoke job on {backend_name!r}: {problems[0]}", hint="see docs/operations.md")
    params = job_type.Params.model_validate({"limit": rows})
    try:
        extract(dataset=dataset or settings.dataset_path, job_type=job_type, params=params, folder=folder,
                task_count=1, memory_limit=settings.duckdb_memory_limit)
        ref = backend.submit(spec)
    except BaseException:
        storage.remove(folder.url, recursive=True)
        raise
    return SmokeRun(job_id=job_id, backend=backend_name, ref=ref, folder=folder, config=config)


def follow(
    run: SmokeRun,
    backend: Backend,
    *,
    timeout_s: float,
    poll_s: float = 2.0,
    on_state: Callable[[JobState], None] | None = None,
    log_grace_s: float = LOG_GRACE_SECONDS,
) -> SmokeResult:
    """Wait for the smoke job to end (cancelling it after ``timeout_s``) and read its steps back."""
    deadline = time.monotonic() + timeout_s
    last: JobState | None = None
    while True:
        status = backend.status(run.ref)
        if status.state != last and on_state is not None:
            on_state(status.state)
        last = status.state
        if status.state.is_finished():
            break
        if time.monotonic() > deadline:
            backend.cancel(run.ref)
            raise BackendError(
                f"smoke job {run.job_id} did not finish within {timeout_s:.0f}s (cancelled; still "
                f"{status.state.value}: {status.reason or 'no reason given'})",
                hint=f"see offbatch's backend logs of {run.ref}",
            )
        time.sleep(poll_s)
    cause = _task_cause(run)
    steps, lines = _read_steps(run, backend, final=status.state, grace_s=log_grace_s, poll_s=poll_s)
    return SmokeResult(run=run, state=status.state, reason=status.reason, steps=steps, cause=cause,
                       log_tail=lines[-LOG_TAIL_LINES:])


def _task_cause(run: SmokeRun) -> str | None:
    try:
        return storage.read_bytes(storage.failure_url(run.folder.output_url, 0)).decode().strip() or None
    except StorageError:
        return None


def _read_steps(
    run: SmokeRun, backend: Backend, *, final: JobState, grace_s: float, poll_s: float
) -> tuple[list[Step], list[str]]:
    """The task's steps and log lines; waits up to ``grace_s`` for the last step (logs lag the state)."""
    deadline = time.monotonic() + grace_s
    while True:
        lines = list(backend.logs(run.ref, task=0))
        steps = parse_steps(lines)
        complete = any(not s.ok for s in steps) or (final == JobState.SUCCEEDED and bool(steps)
                                                      and steps[-1].name == "generation")
        if complete or time.monotonic() > deadline:
            return steps, lines
        time.sleep(poll_s)


def parse_steps(lines) -> list[Step]:
    """Steps from log lines; a retried line (same number) keeps its last report."""
    steps: dict[int, Step] = {}
    for line in lines:
        m = STEP_LINE.search(line.rstrip())
        if m:
            number = int(m.group(1))
            steps[number] = Step(number=number, name=m.group(2), ok=m.group(3) == "ok", detail=m.group(4))
    return [steps[n] for n in sorted(steps)]


def report_lines(result: SmokeResult) -> list[str]:
    """What the command prints: one line per step, then the verdict naming the failed step."""
    lines = []
    width = max((len(s.name) for s in result.steps), default=0)
    for s in result.steps:
        lines.append(f"  {s.number} {s.name.ljust(width)}  {'ok    ' if s.ok else 'FAILED'}  {s.detail}")
    if result.ok:
        lines.append(f"smoke job {result.run.job_id}: every step passed")
        return lines
    failed = result.failed_step
    if failed is not None:
        lines.append(f"smoke job {result.run.job_id}: FAILED at step {failed.number} ({failed.name}): {failed.detail}")
    else:
        why = result.cause or result.reason or "no step reported a failure; see the task's log"
        after = f" after step {result.steps[-1].number} ({result.steps[-1].name})" if result.steps else ""
        lines.append(f"smoke job {result.run.job_id}: {result.state.value}{after}: {why}")
    return lines
