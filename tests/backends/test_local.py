"""The local backend's Google Batch semantics, with real supervisor and task processes.

Tasks here run a small Python program (not the spellcheck worker) so each fault can be made on
purpose: crash on the first attempt, hang, exit with the preemption or bad-input code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from offbatch.backends import JobSpec, JobState, TaskState
from offbatch.backends.local.backend import LocalBackend
from offbatch.backends.local.processes import ProcessId
from offbatch.config import parse_config
from offbatch.contract import EXIT_BAD_INPUT, EXIT_TIMEOUT, IMPORT_TOKEN, OUTPUT_URL
from offbatch.errors import NotFoundError
from tests.conftest import wait_for

PROGRAM = textwrap.dedent(
    """
    import json, os, signal, sys, time
    out = os.environ["RECORD_DIR"]
    index = os.environ["BATCH_TASK_INDEX"]
    attempt = int(os.environ["BATCH_TASK_RETRY_ATTEMPT"])
    def write_atomic(name, text):
        # Readers (the test) poll this folder: a record appears whole or not at all.
        tmp = os.path.join(out, f".tmp-{os.getpid()}-{name}")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(out, name))
    write_atomic(f"task-{index}-{attempt}-{time.monotonic_ns()}.json",
                 json.dumps({"env": dict(os.environ), "start": time.time(), "pid": os.getpid()}))
    mode = os.environ.get("MODE", "ok")
    print(f"task {index} attempt {attempt} mode {mode}", flush=True)
    if mode == "crash-first" and attempt == 0:
        sys.exit(1)
    if mode == "bad-input":
        sys.exit(%(bad)d)
    if mode == "preempt-first" and attempt == 0:
        os.kill(os.getpid(), signal.SIGTERM)  # what a preempted VM does to its tasks
    if mode == "hang" or (mode == "hang-first" and attempt == 0):
        time.sleep(600)
    if mode == "slow":
        time.sleep(1.0)
    if mode in ("gate", "part-then-crash"):
        # Wait for the test to open the gate, then write the output part as the worker does.
        gate = os.path.join(out, f"open-{index}")
        deadline = time.monotonic() + 300
        while mode == "gate" and not os.path.exists(gate):
            if time.monotonic() > deadline:
                sys.exit(1)
            time.sleep(0.05)
        folder = os.environ["OFFBATCH_OUTPUT_URL"].removeprefix("file://")
        os.makedirs(folder, exist_ok=True)
        part = os.path.join(folder, f"part-{int(index):05d}.parquet")
        with open(part + ".tmp", "w") as f:
            f.write(f"attempt {attempt} pid {os.getpid()}")
        os.replace(part + ".tmp", part)
        if mode == "part-then-crash":
            sys.exit(1)
    write_atomic(f"end-{index}-{attempt}", str(time.time()))
    """
) % {"bad": EXIT_BAD_INPUT}


def make_spec(job_id: str, record_dir: Path, *, mode: str = "ok", secret: str = "tok-" + "s" * 40, **config) -> JobSpec:
    values = {"location": "local", "cpu_milli": 1000, "memory_mib": 512, "max_run_duration": 60,
              "machine_type": "local", "budget_usd": 1, "task_count": 1, "parallelism": 1}
    values.update(config)
    cfg = parse_config(values, source="test")
    # As launcher.worker_env: the config's env, then the contract's variables.
    env = {**cfg.env, "RECORD_DIR": str(record_dir), "MODE": mode, "OFFBATCH_JOB_ID": job_id, IMPORT_TOKEN: secret,
           OUTPUT_URL: (record_dir.parent / "output" / job_id).as_uri()}
    return JobSpec(job_id=job_id, job_type="test", config=cfg, env=env, labels={})


@pytest.fixture
def backend(home_settings, tmp_path) -> Iterator[LocalBackend]:
    program = tmp_path / "task.py"
    program.write_text(PROGRAM)
    backend = LocalBackend(home_settings, task_command=[sys.executable, str(program)])
    yield backend
    for status in backend.list():  # a failed test leaves no task running
        backend.cancel(status.job_id)


@pytest.fixture
def record_dir(tmp_path) -> Path:
    path = tmp_path / "records"
    path.mkdir()
    return path


def finished(backend: LocalBackend, ref: str, timeout: float = 60.0):
    return wait_for(lambda: (s := backend.status(ref)).state.is_finished() and s, timeout=timeout, what=f"{ref} to finish")


def records(record_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(record_dir.glob("task-*.json"))]


def test_runs_every_task_with_the_batch_task_env(backend, record_dir):
    ref = backend.submit(make_spec("job-env", record_dir, task_count=3, parallelism=3))
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert [t.state for t in status.tasks] == [TaskState.SUCCEEDED] * 3
    seen = records(record_dir)
    assert sorted(r["env"]["BATCH_TASK_INDEX"] for r in seen) == ["0", "1", "2"]
    assert {r["env"]["BATCH_TASK_COUNT"] for r in seen} == {"3"}
    assert {r["env"]["OFFBATCH_JOB_ID"] for r in seen} == {"job-env"}


def test_never_runs_more_than_parallelism_tasks_at_once(backend, record_dir):
    ref = backend.submit(make_spec("job-par", record_dir, mode="slow", task_count=4, parallelism=2))
    assert finished(backend, ref).state == JobState.SUCCEEDED
    spans = []
    for rec in records(record_dir):
        index = rec["env"]["BATCH_TASK_INDEX"]
        end = float((record_dir / f"end-{index}-0").read_text())
        spans.append((rec["start"], end))
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2


def test_retries_a_crashed_task_once(backend, record_dir):
    ref = backend.submit(make_spec("job-retry", record_dir, mode="crash-first", max_retry_count=1))
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert status.tasks[0].attempts == 2


def test_fails_when_retries_are_spent(backend, record_dir):
    ref = backend.submit(make_spec("job-noretry", record_dir, mode="crash-first", max_retry_count=0))
    status = finished(backend, ref)
    assert status.state == JobState.FAILED
    assert status.tasks[0].exit_code == 1
    assert "exit code 1" in status.reason


def test_bad_input_fails_at_once_without_spending_retries(backend, record_dir):
    ref = backend.submit(make_spec("job-bad", record_dir, mode="bad-input", max_retry_count=3))
    status = finished(backend, ref)
    assert status.state == JobState.FAILED
    assert status.tasks[0].attempts == 1
    assert "bad input" in status.reason


def test_preemption_is_retried_without_spending_a_retry(backend, record_dir):
    ref = backend.submit(make_spec("job-preempt", record_dir, mode="preempt-first", max_retry_count=0))
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert len(records(record_dir)) == 2
    assert status.tasks[0].attempts == 1


def test_kills_a_task_past_max_run_duration(backend, record_dir):
    ref = backend.submit(make_spec("job-hang", record_dir, mode="hang", max_run_duration=1, max_retry_count=0))
    status = finished(backend, ref, timeout=30)
    assert status.state == JobState.FAILED
    assert status.tasks[0].exit_code == EXIT_TIMEOUT
    assert "exceeded max_run_duration" in status.reason


def test_a_task_killed_by_sigkill_is_retried(backend, record_dir):
    ref = backend.submit(make_spec("job-kill", record_dir, mode="hang-first", max_retry_count=1))
    rec = wait_for(lambda: records(record_dir), what="the first attempt to start")[0]
    os.kill(rec["pid"], signal.SIGKILL)
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert status.tasks[0].attempts == 2


def test_cancel_stops_running_tasks_and_is_idempotent(backend, record_dir):
    ref = backend.submit(make_spec("job-cancel", record_dir, mode="hang", task_count=2, parallelism=1))
    wait_for(lambda: records(record_dir), what="a task to start")
    backend.cancel(ref)
    backend.cancel(ref)
    status = finished(backend, ref, timeout=30)
    assert status.state == JobState.CANCELLED
    assert [t.state for t in status.tasks] == [TaskState.CANCELLED, TaskState.CANCELLED]
    backend.cancel(ref)  # a finished job: nothing happens
    assert backend.status(ref).state == JobState.CANCELLED


def test_another_process_reads_the_state(backend, record_dir, home_settings):
    ref = backend.submit(make_spec("job-shared", record_dir, task_count=2, parallelism=2))
    finished(backend, ref)
    other = LocalBackend(home_settings)
    assert other.status(ref).state == JobState.SUCCEEDED
    assert [s.job_id for s in other.list()] == ["job-shared"]
    lines = list(other.logs(ref, task=1))
    assert any("task 1 attempt 0 mode ok" in line for line in lines)


def test_a_supervisor_started_ahead_runs_the_job_it_is_handed_and_leaves_no_stray_log(backend, record_dir):
    with backend.prepared():
        waiting = backend._waiting
        assert waiting is not None and waiting.process.poll() is None  # started before the job exists
        ref = backend.submit(make_spec("job-ahead", record_dir))
    assert finished(backend, ref).state == JobState.SUCCEEDED
    assert backend.status(ref).events[1].description.startswith(f"supervisor {waiting.process.pid} ")
    assert [p.name for p in backend.root.iterdir()] == ["job-ahead"]


def test_a_supervisor_started_ahead_without_a_job_exits_and_leaves_nothing(backend):
    with backend.prepared():
        waiting = backend._waiting
    assert waiting.process.wait(timeout=60) == 0
    assert list(backend.root.iterdir()) == []


def test_a_supervisor_that_died_before_its_job_came_is_replaced(backend, record_dir):
    with backend.prepared():
        waiting = backend._waiting
        waiting.process.kill()
        waiting.process.wait(timeout=60)
        ref = backend.submit(make_spec("job-replaced", record_dir))
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert f"supervisor {waiting.process.pid} " not in status.events[1].description
    assert [p.name for p in backend.root.iterdir()] == ["job-replaced"]


def test_wait_returns_when_the_job_ends_not_at_its_timeout(backend, record_dir):
    ref = backend.submit(make_spec("job-wait", record_dir, mode="slow"))
    wait_for(lambda: backend._dir(ref).read().supervisor_pid, what="the supervisor to start")
    started = time.monotonic()
    while not backend.status(ref).state.is_finished():
        backend.wait(ref, timeout=300)
        assert time.monotonic() - started < 150, "wait slept through the job's end"
    assert backend.status(ref).state == JobState.SUCCEEDED


def test_unknown_job_is_not_found(backend):
    with pytest.raises(NotFoundError):
        backend.status("no-such-job")


def test_secrets_reach_tasks_but_no_file_and_the_key_never_reaches_tasks(backend, record_dir, home_settings, monkeypatch):
    monkeypatch.setenv("OFFBATCH_BATCH_JOB_KEY", "k" * 32)
    secret = "tok-" + "x" * 60
    ref = backend.submit(make_spec("job-secret", record_dir, secret=secret))
    finished(backend, ref)
    (rec,) = records(record_dir)
    assert rec["env"][IMPORT_TOKEN] == secret
    assert "OFFBATCH_BATCH_JOB_KEY" not in rec["env"]
    for path in (home_settings.home_dir / "local-backend").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_follow_streams_logs_until_the_job_ends(backend, record_dir):
    ref = backend.submit(make_spec("job-follow", record_dir, mode="slow", task_count=2, parallelism=1))
    lines = list(backend.logs(ref, follow=True))  # returns by itself once the job has finished
    assert backend.status(ref).state == JobState.SUCCEEDED
    assert any(line.startswith("[task 0]") and "mode slow" in line for line in lines)
    assert any(line.startswith("[task 1]") and "exit code 0" in line for line in lines)


def test_status_shows_live_run_time_one_event_per_task_start_and_attempts_across_a_resume(backend, record_dir):
    ref = backend.submit(make_spec("job-live", record_dir, mode="hang", task_count=2, parallelism=2,
                                   max_retry_count=0))
    # A running task's run time grows while it runs, not only once an attempt ends.
    running = wait_for(lambda: (s := backend.status(ref)).state == JobState.RUNNING
                       and all(t.state == TaskState.RUNNING and t.run_seconds > 0.3 for t in s.tasks) and s,
                       what="both tasks to run for a while")
    starts = [e.description for e in running.events if "started" in e.description]
    assert sorted(starts) == ["task 0 started (attempt 1)", "task 1 started (attempt 1)"]
    backend.cancel(ref)
    assert finished(backend, ref).state == JobState.CANCELLED

    backend.resume(ref, make_spec("job-live", record_dir, mode="ok", task_count=2, parallelism=2, max_retry_count=0))
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED
    assert [(t.attempts, t.attempts_before_resume) for t in status.tasks] == [(2, 1), (2, 1)]
    starts = [e.description for e in status.events if "started" in e.description]
    assert len(starts) == 4 and starts.count("task 0 started (attempt 1)") == 2
    assert all(t.run_seconds > 0.3 for t in status.tasks)


def test_tasks_get_an_allow_listed_environment_not_the_launching_shells(backend, record_dir, monkeypatch):
    shell_secrets = {
        "OFFBATCH_ANNOTATION_TOKEN": "annotation-" + "a" * 40,
        "OFFBATCH_DATABASE_URL": "postgresql://user:db-password@db/offbatch",
        "MY_SERVICE_PASSWORD": "hunter2-" + "p" * 20,
        "AWS_SECRET_ACCESS_KEY": "aws-" + "s" * 36,
    }
    for name, value in shell_secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("OFFBATCH_VLLM_REVISION", "0" * 40)  # the engine's own settings are inherited
    monkeypatch.setenv("HF_TOKEN", "hf_" + "t" * 34)  # ... but not the hub's token
    shell_secrets["HF_TOKEN"] = "hf_" + "t" * 34
    spec = make_spec("job-allow", record_dir, mode="hang", env={"HF_HOME": "/models/hf"})
    ref = backend.submit(spec)
    (rec,) = wait_for(lambda: records(record_dir), what="the task to start")
    env = rec["env"]
    for name, value in shell_secrets.items():
        assert name not in env and value not in json.dumps(env), name
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"  # the allow-list
    assert env["HF_HOME"] == "/models/hf"  # what the config's env asks
    assert env["OFFBATCH_VLLM_REVISION"] == "0" * 40
    assert env["BATCH_TASK_INDEX"] == "0" and env["RECORD_DIR"] == str(record_dir)  # the job's own
    # The supervisor itself does not hold the shell's secrets either.
    supervisor = json.loads((backend.root / ref / "state.json").read_text())["supervisor_pid"]
    environ = Path(f"/proc/{supervisor}/environ").read_bytes()
    assert not any(value.encode() in environ for value in shell_secrets.values())
    backend.cancel(ref)
    assert finished(backend, ref, timeout=30).state == JobState.CANCELLED


# --- a supervisor that died: its tasks are found by pid + start time (takeover.py) -----------


def _state(backend: LocalBackend, ref: str) -> dict:
    return json.loads((backend.root / ref / "state.json").read_text())


def _running_tasks(backend: LocalBackend, ref: str, count: int) -> list[ProcessId] | None:
    """The recorded processes of ``count`` running tasks, once the supervisor has saved them all."""
    tasks = [t for t in _state(backend, ref)["tasks"] if t["pid"]]
    return [ProcessId(t["pid"], t["pid_started"]) for t in tasks] if len(tasks) == count else None


def _kill_supervisor(backend: LocalBackend, ref: str) -> None:
    state = _state(backend, ref)
    supervisor = ProcessId(state["supervisor_pid"], state["supervisor_started"])
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_for(lambda: not supervisor.alive(), timeout=30, what="the supervisor to die")


def _open_gates(record_dir: Path, count: int) -> None:
    for index in range(count):
        (record_dir / f"open-{index}").touch()


def _parts(record_dir: Path, ref: str) -> list[str]:
    folder = record_dir.parent / "output" / ref
    return sorted(p.name for p in folder.glob("part-*.parquet")) if folder.exists() else []


def test_a_process_is_named_by_pid_and_start_time_so_a_reused_pid_is_not_mistaken():
    me = ProcessId.of(os.getpid())
    assert me.alive() and me.started is not None
    assert not ProcessId(os.getpid(), me.started + 1).alive()  # same pid, another process
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    name = ProcessId.of(child.pid)
    child.wait()
    assert not name.alive()


def test_a_job_whose_supervisor_died_runs_on_and_succeeds_on_its_finished_parts(backend, record_dir):
    ref = backend.submit(make_spec("job-orphans", record_dir, mode="gate", task_count=2, parallelism=2,
                                   max_retry_count=0))
    orphans = wait_for(lambda: _running_tasks(backend, ref, 2), what="both tasks to run")
    _kill_supervisor(backend, ref)

    status = backend.status(ref)  # at once, not after a heartbeat timeout
    assert status.state == JobState.RUNNING, status.reason
    assert "supervisor" in status.reason and "2 task(s) still running" in status.reason
    _open_gates(record_dir, 2)  # the orphans finish their shards and write their parts
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED, status.reason
    assert [t.state for t in status.tasks] == [TaskState.SUCCEEDED] * 2
    assert not any(p.alive() for p in orphans)
    assert _parts(record_dir, ref) == ["part-00000.parquet", "part-00001.parquet"]


def test_a_job_whose_supervisor_died_without_parts_fails_and_says_to_resume(backend, record_dir):
    ref = backend.submit(make_spec("job-lost", record_dir, mode="gate", task_count=1, max_retry_count=0))
    (orphan,) = wait_for(lambda: _running_tasks(backend, ref, 1), what="the task to run")
    _kill_supervisor(backend, ref)
    os.killpg(orphan.pid, signal.SIGKILL)  # the task dies too, before writing its part
    status = wait_for(lambda: (s := backend.status(ref)).state.is_finished() and s, what="the job to end")
    assert status.state == JobState.FAILED
    assert f"offbatch resume {ref}" in status.reason
    assert status.tasks[0].state == TaskState.FAILED


def test_resume_stops_the_orphans_of_a_dead_supervisor_before_rerunning(backend, record_dir):
    spec = make_spec("job-resume-orphans", record_dir, mode="gate", task_count=2, parallelism=2, max_retry_count=0)
    ref = backend.submit(spec)
    orphans = wait_for(lambda: _running_tasks(backend, ref, 2), what="both tasks to run")
    _kill_supervisor(backend, ref)

    backend.resume(ref, spec)
    assert not any(p.alive() for p in orphans)  # stopped before the new supervisor started
    rerun = wait_for(lambda: (r := _running_tasks(backend, ref, 2)) and not set(r) & set(orphans) and r,
                     what="the rerun's tasks")
    assert _parts(record_dir, ref) == []  # the orphans never finished
    _open_gates(record_dir, 2)
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED, status.reason  # with max_retry_count 0
    written = sorted((record_dir.parent / "output" / ref).glob("part-*.parquet"))
    assert [p.read_text().split()[-1] for p in written] == [str(p.pid) for p in rerun]  # one writer per shard


def test_resume_counts_a_finished_part_as_done(backend, record_dir):
    spec = make_spec("job-resume-parts", record_dir, mode="gate", task_count=2, parallelism=2, max_retry_count=0)
    ref = backend.submit(spec)
    orphans = wait_for(lambda: _running_tasks(backend, ref, 2), what="both tasks to run")
    _kill_supervisor(backend, ref)
    (record_dir / "open-1").touch()  # task 1 finishes its shard; task 0 is still at work
    wait_for(lambda: not orphans[1].alive(), what="task 1 to finish")

    backend.resume(ref, spec)
    assert not orphans[0].alive()
    (record_dir / "open-0").touch()
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED, status.reason
    # Task 1 was not run again (one start); task 0's part is the rerun's (the orphan may have been
    # stopped before it even wrote its start record, so count task 1's starts only).
    assert [r["env"]["BATCH_TASK_INDEX"] for r in records(record_dir)].count("1") == 1
    part0 = (record_dir.parent / "output" / ref / "part-00000.parquet").read_text()
    assert part0.split()[-1] != str(orphans[0].pid)


def test_cancel_after_the_supervisor_died_stops_the_tasks_itself(backend, record_dir):
    ref = backend.submit(make_spec("job-cancel-orphans", record_dir, mode="gate", task_count=2, parallelism=2))
    orphans = wait_for(lambda: _running_tasks(backend, ref, 2), what="both tasks to run")
    _kill_supervisor(backend, ref)

    backend.cancel(ref)
    assert not any(p.alive() for p in orphans)  # cancel returns once they have exited
    status = backend.status(ref)
    assert status.state == JobState.CANCELLED
    assert [t.state for t in status.tasks] == [TaskState.CANCELLED] * 2
    _open_gates(record_dir, 2)
    assert _parts(record_dir, ref) == []  # nothing left to write them
    backend.cancel(ref)  # idempotent
    assert backend.status(ref).state == JobState.CANCELLED


def test_cancel_after_the_supervisor_died_and_every_part_was_written_changes_nothing(backend, record_dir):
    ref = backend.submit(make_spec("job-cancel-late", record_dir, mode="gate", task_count=1))
    (orphan,) = wait_for(lambda: _running_tasks(backend, ref, 1), what="the task to run")
    _kill_supervisor(backend, ref)
    _open_gates(record_dir, 1)
    wait_for(lambda: not orphan.alive(), what="the task to finish")
    backend.cancel(ref)
    status = backend.status(ref)
    assert status.state == JobState.SUCCEEDED and status.tasks[0].state == TaskState.SUCCEEDED


def test_a_task_that_wrote_its_part_then_failed_is_done(backend, record_dir):
    ref = backend.submit(make_spec("job-part-crash", record_dir, mode="part-then-crash", max_retry_count=0))
    status = finished(backend, ref)
    assert status.state == JobState.SUCCEEDED, status.reason
    assert status.tasks[0].attempts == 1 and status.tasks[0].exit_code == 1


def test_offbatch_cancel_after_the_supervisor_died_ends_the_job_cancelled(backend, record_dir, home_settings):
    from offbatch.db.models import Job
    from offbatch.db.session import Database

    spec = make_spec("job-cli-cancel", record_dir, mode="gate", task_count=2, parallelism=2)
    ref = backend.submit(spec)
    db = Database(home_settings.db_url)
    with db.session() as s:
        s.add(Job(id=ref, job_type="ingredients-spellcheck", backend="local", backend_ref=ref, state="RUNNING",
                  storage_url="file:///nowhere", task_count=2, rows_selected=2, engine="cpu",
                  config={"location": "local", "machine_type": "local"}))
    orphans = wait_for(lambda: _running_tasks(backend, ref, 2), what="both tasks to run")
    _kill_supervisor(backend, ref)

    src = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run([sys.executable, "-m", "offbatch", "cancel", ref], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": src}, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{ref}: cancel requested; the job is CANCELLED"
    assert not any(p.alive() for p in orphans)
    _open_gates(record_dir, 2)
    assert _parts(record_dir, ref) == []
    with db.session() as s:
        assert s.get(Job, ref).state == "CANCELLED"
    db.dispose()


def test_a_job_whose_supervisor_died_before_taking_it_fails_and_resumes(backend, record_dir, monkeypatch):
    from offbatch.backends.local import state

    spec = make_spec("job-never-taken", record_dir)
    # The supervisor got the job and died before its first save: here, none is handed the job.
    with monkeypatch.context() as m:
        m.setattr(backend, "_start_supervisor", lambda job_dir, spec: None)
        ref = backend.submit(spec)
    assert backend.status(ref).state == JobState.QUEUED  # within the start-up grace: waiting
    with monkeypatch.context() as m:
        m.setattr(state, "SUPERVISOR_START_GRACE_SECONDS", 0.0)  # as if a minute had passed
        status = backend.status(ref)
        assert status.state == JobState.FAILED, status.reason
        assert "the local supervisor never took the job" in status.reason
        assert f"offbatch resume {ref}" in status.reason
        backend.resume(ref, spec)  # a real supervisor this time
    assert finished(backend, ref).state == JobState.SUCCEEDED
