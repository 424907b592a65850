"""The launcher: job ids reserved atomically under concurrent launches, and one preflight that
finds every problem for both ``--dry-run`` and a launch."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from offbatch.backends import JobState
from offbatch.config import load_config
from offbatch.db.models import Job
from offbatch.db.session import Database
from offbatch.errors import DatasetError
from offbatch.jobs import get_job_type
from offbatch.launcher import RESERVED_REASON, launch, reserve_job
from offbatch.settings import Settings
from offbatch.storage import list_parts, read_json
from offbatch.tracking import refresh
from tests.conftest import SAMPLE, TEST_KEY, wait_for
from tests.fakes.task_runners import ScriptedRunner

SRC = str(Path(__file__).resolve().parents[1] / "src")
LOCAL_ONE_TASK = (
    "location: local\ncpu_milli: 1000\nmemory_mib: 1024\nmax_retry_count: 0\nmax_run_duration: 5m\n"
    "task_count: 1\nparallelism: 1\nmachine_type: local\nbudget_usd: 1\nengine: cpu\nchunk_size: 64\n"
)
LIMITS = [3, 4, 5, 6]


def _launch_together(count: int, start) -> list[object]:
    """Run ``start(i)`` in ``count`` threads released at the same instant; results (or errors) in order."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = start(i)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def _check_each_job_owns_its_folder(db: Database, plans, limits: list[int]) -> list[Job]:
    """Every launch got its own id, row and folder, and each holds that launch's rows."""
    errors = [p for p in plans if isinstance(p, BaseException)]
    assert not errors, errors
    ids = [p.job_id for p in plans]
    assert len(set(ids)) == len(ids), ids
    jobs = []
    for plan, limit in zip(plans, limits, strict=True):
        with db.session() as s:
            job = s.get(Job, plan.job_id)
        assert job.rows_selected == limit and job.backend_ref and job.reason is None, (plan.job_id, job.reason)
        assert job.storage_url == plan.storage_url and job.storage_url.endswith(plan.job_id)
        job_json = read_json(f"{plan.storage_url}/job.json")
        assert job_json["job_id"] == plan.job_id and job_json["rows"] == limit
        (part,) = list_parts(f"{plan.storage_url}/input")
        assert _rows(part) == limit
        jobs.append(job)
    return jobs


def _rows(url: str) -> int:
    from offbatch.storage import filesystem

    fs, path = filesystem(url)
    with fs.open(path, "rb") as f:
        return pq.ParquetFile(f).metadata.num_rows


def test_launches_in_the_same_second_each_reserve_their_own_id_and_folder(settings, db, tmp_path):
    config = tmp_path / "one-task.yaml"
    config.write_text(LOCAL_ONE_TASK)
    same_second = datetime(2026, 12, 2, 4, 30, 0, tzinfo=UTC)  # every launch asks for the same id

    plans = _launch_together(len(LIMITS), lambda i: launch(
        settings, db, job_type_name="ingredients-spellcheck", config_path=config, limit=LIMITS[i], now=same_second))

    jobs = _check_each_job_owns_its_folder(db, plans, LIMITS)
    base = "ingredients-spellcheck-20261202-043000"
    assert min(j.id for j in jobs) == base  # one got the plain id, the others a suffix
    assert all(j.id.startswith(base) for j in jobs)
    for plan, limit in zip(plans, LIMITS, strict=True):
        _, status = wait_for(lambda p=plan: (r := refresh(settings, db, p.job_id))[1].state.is_finished() and r,
                             timeout=240, interval=0.2, what=f"{plan.job_id} to finish")
        assert status.state == JobState.SUCCEEDED, status.reason
        (output,) = list_parts(f"{plan.storage_url}/output")
        assert _rows(output) == limit  # its own input, not another launch's


def test_a_taken_id_is_never_given_twice(settings, db):
    job_type = get_job_type("ingredients-spellcheck")
    config = load_config(job_type.config_path("local"))
    now = datetime(2026, 12, 2, 4, 30, 0, tzinfo=UTC)
    ids = [reserve_job(db, job_type=job_type, backend_name="local", storage_root=settings.storage_root,
                       config=config, now=now) for _ in range(5)]
    assert len(set(ids)) == 5
    with db.session() as s:
        rows = list(s.scalars(select(Job).order_by(Job.id)))
    assert [r.id for r in rows] == sorted(ids)
    assert {(r.state, r.backend_ref, r.reason) for r in rows} == {(JobState.QUEUED.value, "", RESERVED_REASON)}
    # A reserved job's status is its row (nothing is submitted yet), not a backend error.
    _, status = refresh(settings, db, ids[0])
    assert status.state == JobState.QUEUED and status.reason == RESERVED_REASON


def test_launch_processes_started_at_the_same_instant_never_share_a_job(home, tmp_path):
    config = tmp_path / "one-task.yaml"
    config.write_text(LOCAL_ONE_TASK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFBATCH_")}
    env.update(OFFBATCH_HOME=str(home), PYTHONPATH=SRC)
    Database(Settings(home=home).db_url).dispose()  # migrated once, not by five launches at a time
    # Each process imports everything, then waits for the same wall-clock instant to launch.
    start_at = time.time() + 8
    program = (
        "import sys, time; from offbatch.cli import main; "
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time())); sys.exit(main(sys.argv[2:]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", program, str(start_at), "launch", "ingredients-spellcheck",
                          "--config", str(config), "--limit", str(limit), "--json"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for limit in LIMITS
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    plans = [json.loads(out[: out.rindex("}") + 1]) for out, _ in outputs]
    db = Database(Settings(home=home).db_url)
    try:
        jobs = _check_each_job_owns_its_folder(db, [_Plan(p) for p in plans], LIMITS)
        assert len({j.id for j in jobs}) == len(LIMITS)
        for job in jobs:
            wait_for(lambda j=job: refresh(Settings(home=home), db, j.id)[1].state.is_finished(), timeout=240,
                     interval=0.2, what=f"{job.id} to finish")
    finally:
        db.dispose()


class _Plan:
    def __init__(self, data: dict) -> None:
        self.job_id, self.storage_url = data["job_id"], data["storage_url"]


@pytest.fixture
def fake_batch_runner() -> ScriptedRunner:
    return ScriptedRunner()  # every Batch task exits 0 at once: only the launches are under test


def test_launches_in_the_same_second_on_gcs_and_google_batch_never_share_a_folder(google_settings, gs, db_url,
                                                                                  tmp_path):
    settings = Settings(**{**google_settings.model_dump(), "storage_url": gs, "database_url": db_url})
    db = Database(settings.db_url)
    config = tmp_path / "batch.yaml"
    config.write_text(
        "location: europe-west4\ncontainer_image_uri: europe-west4-docker.pkg.dev/p/r/ingredients-spellcheck:test\n"
        "entrypoint: offbatch\ncommands: [run-task]\ncpu_milli: 4000\nmemory_mib: 4096\nmax_retry_count: 0\n"
        "max_run_duration: 10m\ntask_count: 1\nparallelism: 1\nmachine_type: n2-standard-8\nbudget_usd: 5\n"
        "engine: cpu\n"
    )
    same_second = datetime(2026, 12, 2, 4, 30, 0, tzinfo=UTC)
    try:
        plans = _launch_together(len(LIMITS), lambda i: launch(
            settings, db, job_type_name="ingredients-spellcheck", config_path=config, limit=LIMITS[i],
            now=same_second))
        jobs = _check_each_job_owns_its_folder(db, plans, LIMITS)
        assert all(j.storage_url.startswith("gs://") and "/jobs/" in j.backend_ref for j in jobs)
    finally:
        db.dispose()


# --- preflight: one list of problems for the dry run and the launch --------------------------


@pytest.fixture
def empty_dataset(tmp_path) -> Path:
    path = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(SAMPLE).slice(0, 0), path)
    return path


def test_a_dry_run_and_a_launch_find_the_same_problems_before_writing_anything(settings, db, empty_dataset):
    dry = launch(settings, db, job_type_name="ingredients-spellcheck", dataset=str(empty_dataset), dry_run=True)
    assert dry.rows == 0 and not dry.submitted
    assert [type(p) for p in dry.problems] == [DatasetError]
    assert "selected no products" in dry.as_dict()["problems"][0]
    assert isinstance(dry.refusal(), DatasetError)

    with pytest.raises(DatasetError, match="selected no products"):
        launch(settings, db, job_type_name="ingredients-spellcheck", dataset=str(empty_dataset))
    assert not Path(settings.storage_root.removeprefix("file://")).exists()
    with db.session() as s:
        assert s.scalars(select(Job)).all() == []


def test_cli_dry_run_lists_every_problem_exits_non_zero_and_the_launch_refuses_on_all(home, empty_dataset, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OFFBATCH_", "GOOGLE_")) and k != "BATCH_JOB_KEY"}
    env.update(OFFBATCH_HOME=str(home), PYTHONPATH=SRC, OFFBATCH_API_URL="https://offbatch.example.org",
               OFFBATCH_STORAGE_URL="s3://some-bucket/offbatch")
    args = ["launch", "ingredients-spellcheck", "--backend", "google-batch", "--dataset", str(empty_dataset), "--yes"]
    expected = [
        "OFFBATCH_STORAGE_URL=gs://",  # tasks on Google cannot reach s3://
        "OFFBATCH_GOOGLE_PROJECT is not set",
        "OFFBATCH_BATCH_JOB_KEY is required",
        "selected no products",
    ]
    if importlib.util.find_spec("s3fs") is None:
        expected.append("s3:// storage needs a package that is not installed")

    dry = _offbatch(*args, "--dry-run", env=env)
    assert dry.returncode != 0 and "Traceback" not in dry.stderr
    problems = json.loads(dry.stdout)["problems"]
    assert len(problems) == len(expected)
    for words in expected:
        assert sum(words in p for p in problems) == 1, (words, problems)
        assert sum(words in line for line in dry.stderr.splitlines()) == 1, (words, dry.stderr)
    assert dry.stderr.startswith(f"error: cannot launch ingredients-spellcheck on 'google-batch': {len(expected)} problems")

    real = _offbatch(*args, env=env)
    assert real.returncode == dry.returncode and "Traceback" not in real.stderr
    assert real.stderr.splitlines()[0] == dry.stderr.splitlines()[0]
    for words in expected:
        assert sum(words in line for line in real.stderr.splitlines()) == 1, (words, real.stderr)
    assert not (home / "storage").exists() and not (home / "local-backend").exists()
    db = Database(Settings(home=home).db_url)
    try:
        with db.session() as s:
            assert s.scalars(select(Job)).all() == []
    finally:
        db.dispose()


def test_dry_run_without_problems_exits_zero(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFBATCH_") and k != "BATCH_JOB_KEY"}
    env.update(OFFBATCH_HOME=str(home), PYTHONPATH=SRC)
    result = _offbatch("launch", "ingredients-spellcheck", "--dry-run", "--limit", "10", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["problems"] == []


def _offbatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offbatch", *args], env=env, capture_output=True, text=True,
                          timeout=180, check=False)


LAUNCH_UNTIL_CONFIRM = """
import json, sys, time
from pathlib import Path
import offbatch.launcher as launcher
from offbatch.db.session import Database
from offbatch.settings import Settings
launcher.LAUNCH_HEARTBEAT_SECONDS = 0.2
settings = Settings(**json.loads(sys.argv[1]))
def confirm(plan):
    Path(sys.argv[2]).write_text(plan.job_id)  # extracted and reserved: now wait to be killed
    time.sleep(600)
launcher.launch(settings, Database(settings.db_url, auto_migrate=False), job_type_name="ingredients-spellcheck",
                backend_name="local", limit=5, confirm=confirm)
"""


def test_a_launch_killed_before_it_submits_fails_its_job_once_the_reservation_goes_stale(
        settings, db, tmp_path, monkeypatch):
    import signal
    from datetime import timedelta

    from offbatch import tracking
    from offbatch.jobviews import job_rows

    marker = tmp_path / "reserved"
    fields = {"home": str(settings.home), "database_url": settings.db_url, "storage_url": settings.storage_url,
              "batch_job_key": TEST_KEY, "annotation_token": "test-annotation-token-0123456789"}
    env = {**os.environ, "PYTHONPATH": SRC}
    child = subprocess.Popen([sys.executable, "-c", LAUNCH_UNTIL_CONFIRM, json.dumps(fields), str(marker)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: marker.exists() and marker.read_text() or child.poll() is not None, timeout=120,
                 what="the launch to reserve its job")
        assert child.poll() is None, child.communicate()[1]
        job_id = marker.read_text()
        first = tracking.get_job(db, job_id)
        assert (first.state, first.backend_ref) == (JobState.QUEUED.value, "")
        # Alive, it renews the reservation: however long it waits, the job stays QUEUED.
        monkeypatch.setattr(tracking, "LAUNCH_STALE_AFTER", timedelta(seconds=2))
        time.sleep(3)
        job, status = refresh(settings, db, job_id)
        assert status.state == JobState.QUEUED and job.updated_at > first.updated_at
        assert not tracking.needs_refresh(job)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # Killed: the reservation goes stale, the listing asks about it, and the job fails, saying why.
    job = wait_for(lambda: tracking.needs_refresh(j := tracking.get_job(db, job_id)) and j, timeout=30,
                   what="the reservation to go stale")
    (view,) = [v for v in job_rows(settings, db, limit=10) if v.job.id == job_id]
    assert view.job.state == JobState.FAILED.value and view.job.finished_at is not None
    assert view.job.reason.startswith("launch interrupted: the launching process stopped before it submitted")
    _, status = refresh(settings, db, job_id)
    assert status.state == JobState.FAILED and status.reason == view.job.reason
