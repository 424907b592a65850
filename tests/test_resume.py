"""A failed job resumed with `offbatch resume` reruns only its unfinished shards."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from offbatch.backends import JobState
from offbatch.db.session import Database
from offbatch.errors import BackendError
from offbatch.imports import run_import
from offbatch.launcher import launch, resume
from offbatch.tracking import refresh
from tests.conftest import wait_for


def _finished(settings, db, job_id):
    return wait_for(lambda: (r := refresh(settings, db, job_id))[1].state.is_finished() and r, timeout=120,
                    interval=0.1, what=f"{job_id} to finish")


def test_resume_reruns_only_the_failed_shard(home_settings, tmp_path):
    settings = home_settings
    db = Database(settings.db_url)
    # Shard 1's input is broken after extraction, before submission (the confirm hook runs then).
    broken = launch(settings, db, job_type_name="ingredients-spellcheck", limit=100,
                    confirm=lambda p: _break_shard(p, 1, tmp_path))
    job, status = _finished(settings, db, broken.job_id)
    assert status.state == JobState.FAILED
    assert "bad input" in status.reason
    part0 = Path(job.storage_url.removeprefix("file://")) / "output" / "part-00000.parquet"
    done_at = os.stat(part0).st_mtime_ns

    _restore_shard(broken, 1, tmp_path)
    resume(settings, db, broken.job_id)
    job, status = _finished(settings, db, broken.job_id)
    assert status.state == JobState.SUCCEEDED
    assert os.stat(part0).st_mtime_ns == done_at  # shard 0 was not redone
    run = run_import(settings, db, broken.job_id)
    assert run.predictions_created == 100

    with pytest.raises(BackendError, match="already succeeded"):
        resume(settings, db, broken.job_id)


def _break_shard(plan, index: int, tmp_path: Path) -> bool:
    part = Path(f"{plan.storage_url}/input/part-{index:05d}.parquet".removeprefix("file://"))
    shutil.copy(part, tmp_path / "saved.parquet")
    part.write_bytes(b"not parquet")
    return True


def _restore_shard(plan, index: int, tmp_path: Path) -> None:
    part = Path(f"{plan.storage_url}/input/part-{index:05d}.parquet".removeprefix("file://"))
    shutil.copy(tmp_path / "saved.parquet", part)
