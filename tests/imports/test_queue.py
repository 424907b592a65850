"""The import queue: deliveries, claims, stale claims, fencing, and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from offbatch.db.models import ImportRun, Prediction
from offbatch.imports import ImportState, enqueue_import, process_queue, run_import
from offbatch.imports.importer import execute
from offbatch.imports.queue import claim_next, claim_run, get_run
from tests.conftest import TEST_KEY, output_row

SRC = str(Path(__file__).resolve().parents[2] / "src")


def rows(n: int, prefix: str = "") -> list[dict]:
    return [output_row(f"{prefix}{i:012d}", original="lait, sucer", correction="lait, sucre") for i in range(n)]


def prediction_keys(db) -> list[tuple]:
    with db.session() as s:
        return s.execute(select(Prediction.job_id, Prediction.barcode, Prediction.value_tag)).all()


def wait_for(predicate, *, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_deliveries_are_counted_on_one_import(db, make_job):
    job = make_job([rows(3)])
    runs = [enqueue_import(db, job.id) for _ in range(3)]
    assert {r.id for r in runs} == {runs[0].id}
    assert runs[-1].deliveries == 3 and runs[-1].state == ImportState.QUEUED


def test_waiting_import_is_queued_when_the_last_part_arrives(db, settings, make_job):
    job = make_job([rows(2, "1"), rows(2, "2")], write=False)
    from offbatch.jobs import get_job_type
    from offbatch.storage import JobFolder
    from tests.conftest import write_parts

    folder = JobFolder(settings.storage_root, job.job_type, job.id)
    schema = get_job_type(job.job_type).output_schema
    write_parts(folder, [rows(2, "1")], schema)
    assert enqueue_import(db, job.id).state == ImportState.WAITING
    assert claim_next(db, worker_id="w") is None
    write_parts(folder, [rows(2, "1"), rows(2, "2")], schema)
    assert enqueue_import(db, job.id).state == ImportState.QUEUED
    assert process_queue(settings, db, worker_id="w", once=True) == 1
    assert len(prediction_keys(db)) == 4


def test_a_live_claim_is_not_taken_but_a_stale_one_is(db, make_job):
    job = make_job([rows(1)])
    run = enqueue_import(db, job.id)
    assert claim_next(db, worker_id="a") == run.id
    assert claim_next(db, worker_id="b") is None
    assert not claim_run(db, run.id, worker_id="b")
    assert claim_next(db, worker_id="b", stale_after=timedelta(0)) == run.id
    assert get_run(db, run.id).claimed_by == "b"


def test_a_worker_that_lost_its_claim_cannot_commit(db, settings, make_job):
    job = make_job([rows(10)])
    run = enqueue_import(db, job.id)
    assert claim_next(db, worker_id="old") == run.id

    def steal(_run):
        # While "old" is between chunks, "new" presumes it dead and takes over.
        claim_next(db, worker_id="new", stale_after=timedelta(0))

    execute(db, run.id, worker_id="old", chunk_rows=4, on_chunk=steal)
    after = get_run(db, run.id)
    assert after.claimed_by == "new" and after.rows_done == 4  # only the chunk before the theft
    assert len(prediction_keys(db)) == 4
    assert execute(db, run.id, worker_id="new", chunk_rows=4) is None
    assert get_run(db, run.id).state == ImportState.SUCCEEDED
    assert len(prediction_keys(db)) == 10


class Crash(BaseException):
    """Stands for the process dying between two chunks (escapes every except Exception)."""


def test_an_interrupted_import_resumes_where_it_stopped(db, settings, make_job):
    job = make_job([rows(10, "1"), rows(7, "2")])

    def crash_after_second_chunk(run: ImportRun) -> None:
        if run.rows_done >= 8:
            raise Crash

    with pytest.raises(Crash):
        run_import(settings, db, job.id, chunk_rows=4, on_chunk=crash_after_second_chunk)
    half = get_run(db, enqueue_import(db, job.id).id)
    assert (half.state, half.rows_done, half.parts_done) == (ImportState.RUNNING, 8, 0)
    run = run_import(settings, db, job.id, chunk_rows=4, stale_after=timedelta(0))
    assert (run.rows_done, run.parts_done, run.predictions_created, run.insights_created) == (17, 2, 17, 17)
    keys = prediction_keys(db)
    assert len(keys) == 17 == len(set(keys))


CHILD = textwrap.dedent("""
    import sys, threading
    from offbatch.db.session import Database
    from offbatch.imports import run_import
    from offbatch.settings import load_settings

    settings = load_settings()
    db = Database(settings.db_url, auto_migrate=False)

    def hang_in_second_part(run):
        if run.parts_done >= 1 and run.rows_done > 2_000:
            print("hanging", flush=True)
            threading.Event().wait()  # the parent kills us here, between two chunks

    run_import(settings, db, sys.argv[1], chunk_rows=500, on_chunk=hang_in_second_part)
""")


def test_import_killed_with_sigkill_resumes_without_duplicates_or_losses(db, db_url, settings, make_job, tmp_path):
    job = make_job([rows(2_000, "1"), rows(3_000, "2"), rows(1_000, "3")])
    env = {
        **os.environ, "PYTHONPATH": SRC, "OFFBATCH_DATABASE_URL": db_url, "OFFBATCH_HOME": str(tmp_path / "home"),
        "OFFBATCH_STORAGE_URL": settings.storage_root, "OFFBATCH_BATCH_JOB_KEY": TEST_KEY,
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, job.id], env=env, stdout=subprocess.PIPE, text=True)
    try:
        def halfway() -> bool:
            assert child.poll() is None, "the importing child exited early"
            r = db_run(db)
            return r is not None and r.parts_done >= 1 and r.rows_done > 2_000

        wait_for(halfway, what="the child to import part 0 and a chunk of part 1")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    half = db_run(db)
    assert half.state == ImportState.RUNNING and 2_000 < half.rows_done < 6_000
    assert len(prediction_keys(db)) == half.rows_done  # data and progress committed together

    run = run_import(settings, db, job.id, chunk_rows=700, stale_after=timedelta(0))
    assert run.state == ImportState.SUCCEEDED
    assert (run.rows_done, run.predictions_created, run.insights_created) == (6_000, 6_000, 6_000)
    keys = prediction_keys(db)
    assert len(keys) == 6_000 == len(set(keys))


def db_run(db) -> ImportRun | None:
    with db.session() as s:
        return s.scalars(select(ImportRun)).one_or_none()


def test_concurrent_workers_import_a_job_once(db, settings, make_job):
    jobs = [make_job([rows(300, str(k))]) for k in range(4)]
    for job in jobs:
        enqueue_import(db, job.id)
    done: list[int] = []
    workers = [
        threading.Thread(target=lambda w=w: done.append(process_queue(settings, db, worker_id=f"w{w}", once=True, chunk_rows=50)))
        for w in range(3)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert sum(done) == 4
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Prediction)) == 1_200
        assert set(s.scalars(select(ImportRun.state))) == {ImportState.SUCCEEDED.value}


SLOW_CHILD = textwrap.dedent("""
    import sys, threading
    from datetime import timedelta
    from offbatch.db.session import Database
    from offbatch.imports import run_import
    from offbatch.settings import load_settings

    settings = load_settings()
    db = Database(settings.db_url, auto_migrate=False)

    def hang_after_first_chunk(run):
        print("hanging", flush=True)
        threading.Event().wait()  # alive but making no progress, until the parent kills us

    run_import(settings, db, sys.argv[1], chunk_rows=500, on_chunk=hang_after_first_chunk,
               heartbeat_every=timedelta(seconds=float(sys.argv[2])))
""")


def test_a_slow_importer_keeps_its_claim_and_a_sigkilled_one_is_taken_over_within_seconds(
    db, db_url, settings, make_job, tmp_path
):
    from offbatch.imports.queue import HEARTBEAT_EVERY, STALE_AFTER

    # The defaults: a dead importer is taken over within seconds, after several missed beats.
    assert STALE_AFTER <= timedelta(seconds=30) and STALE_AFTER >= 5 * HEARTBEAT_EVERY
    # Scaled down here to keep the test short, with more room for missed beats than the
    # defaults (12, not 7): a loaded machine must not make the live child look dead.
    beat, stale = 0.5, timedelta(seconds=6)
    job = make_job([rows(2_000, "1")])
    env = {
        **os.environ, "PYTHONPATH": SRC, "OFFBATCH_DATABASE_URL": db_url, "OFFBATCH_HOME": str(tmp_path / "home"),
        "OFFBATCH_STORAGE_URL": settings.storage_root, "OFFBATCH_BATCH_JOB_KEY": TEST_KEY,
    }
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, job.id, str(beat)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "hanging"
        first = db_run(db)
        assert first.state == ImportState.RUNNING and first.rows_done == 500
        # For well over the threshold, the live child keeps its claim: nobody can take it.
        watch_until = time.monotonic() + 2 * stale.total_seconds()
        while time.monotonic() < watch_until:
            assert child.poll() is None
            assert not claim_run(db, first.id, worker_id="other", stale_after=stale)
            assert claim_next(db, worker_id="other", stale_after=stale) is None
            time.sleep(0.2)
        held = db_run(db)
        assert held.claimed_by == first.claimed_by and held.claimed_at > first.claimed_at  # renewed
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    killed_at = time.monotonic()
    run = run_import(settings, db, job.id, chunk_rows=700, stale_after=stale, poll_seconds=0.1)
    taken_over_after = time.monotonic() - killed_at
    assert run.state == ImportState.SUCCEEDED and run.claimed_by is None
    assert (run.rows_done, run.predictions_created) == (2_000, 2_000)
    assert len(set(prediction_keys(db))) == 2_000
    # Taken over once the dead child's last beat aged past the threshold, not minutes later
    # (generous bound: the machine may be loaded).
    assert taken_over_after < stale.total_seconds() + 30
