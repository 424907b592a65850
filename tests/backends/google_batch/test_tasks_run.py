"""Tasks run as real local processes by the fake: environment, logs, timeouts."""

from __future__ import annotations

import sys

from offbatch.backends.base import JobState, TaskState
from tests.backends.google_batch.conftest import TOKEN, make_spec
from tests.backends.google_batch.test_backend import wait_for

PRINT_ENV = (
    "import os, sys; e = os.environ; "
    "print(e['BATCH_TASK_INDEX'], e['BATCH_TASK_COUNT'], e['OFFBATCH_JOB_ID'], "
    f"e['OFFBATCH_IMPORT_TOKEN'] == {TOKEN!r}); print('to stderr', file=sys.stderr)"
)


def python_spec(code: str, **overrides):
    return make_spec(entrypoint=sys.executable, commands=["-c", code], **overrides)


def test_tasks_get_the_contract_environment_and_their_output_is_in_the_logs(google_backend) -> None:
    ref = google_backend.submit(python_spec(PRINT_ENV, task_count=2))
    assert wait_for(google_backend, ref).state == JobState.SUCCEEDED
    job = "ingredients-spellcheck-20261124-153012"
    lines = list(google_backend.logs(ref))
    assert sorted(line for line in lines if "[agent]" not in line) == sorted(
        [f"[task 0] 0 2 {job} True", "[task 0] to stderr", f"[task 1] 1 2 {job} True", "[task 1] to stderr"]
    )
    task_1 = list(google_backend.logs(ref, task=1))
    assert [line for line in task_1 if "[agent]" not in line] == [f"1 2 {job} True", "to stderr"]
    # The Batch agent's lines (VM set-up, driver install, image pull) come too, marked, before the task's.
    assert task_1[:2] == ["[agent] Task task/" + task_1[0].split("task/", 1)[1], "[agent] Installing GPU drivers"]
    assert task_1.index("[agent] Pulling image europe-west4-docker.pkg.dev/p/offbatch/ingredients-spellcheck:test") \
        < task_1.index(f"1 2 {job} True")


def test_follow_streams_until_the_job_finishes(google_backend) -> None:
    code = "import time\nfor i in range(5):\n    print('line', i, flush=True); time.sleep(0.05)"
    ref = google_backend.submit(python_spec(code, task_count=1, parallelism=1))
    lines = [line for line in google_backend.logs(ref, follow=True) if "[agent]" not in line]
    assert lines == [f"[task 0] line {i}" for i in range(5)]
    assert google_backend.status(ref).state == JobState.SUCCEEDED


def test_exit_code_3_fails_the_task_at_once(google_backend) -> None:
    status = wait_for(google_backend, google_backend.submit(
        python_spec("raise SystemExit(3)", task_count=1, parallelism=1, max_retry_count=2)))
    assert (status.state, status.tasks[0].attempts, status.tasks[0].exit_code) == (JobState.FAILED, 1, 3)


def test_a_task_past_max_run_duration_is_stopped_and_not_retried(google_backend) -> None:
    status = wait_for(google_backend, google_backend.submit(
        python_spec("import time; time.sleep(30)", task_count=1, parallelism=1, max_retry_count=2,
                    max_run_duration=1)))
    (task,) = status.tasks
    assert (status.state, task.state, task.attempts, task.exit_code) == (JobState.FAILED, TaskState.FAILED, 1, 50005)
    assert 0.9 < task.run_seconds < 10

