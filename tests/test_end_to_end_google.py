"""The production path end to end without Google: the real google-cloud-batch client against
the fake Batch service (whose tasks run the real worker), job folders on gs:// through the GCS
emulator, then the import into the database."""

from __future__ import annotations

import pytest

from offbatch.backends import JobState
from offbatch.db.session import Database
from offbatch.imports import run_import
from offbatch.launcher import launch
from offbatch.settings import Settings
from offbatch.storage import list_parts, read_json
from offbatch.tracking import refresh
from tests.conftest import wait_for

pytest.importorskip("google.cloud.batch_v1")
pytest.importorskip("gcp_storage_emulator")

from tests.fakes.google_batch_fixtures import TEST_JOB_KEY


def test_launch_on_google_batch_and_gcs_then_import(google_settings, gs, db_url, tmp_path):
    settings = Settings(**{**google_settings.model_dump(), "storage_url": gs, "database_url": db_url})
    db = Database(settings.db_url)
    config = tmp_path / "cpu-on-batch.yaml"
    # The production config's shape with the CPU engine and a CPU machine (the fake runs it here).
    config.write_text(
        "location: europe-west4\n"
        "container_image_uri: europe-west4-docker.pkg.dev/p/r/ingredients-spellcheck:test\n"
        "entrypoint: offbatch\ncommands: [run-task]\n"
        "cpu_milli: 4000\nmemory_mib: 4096\nboot_disk_mib: 30000\nmax_retry_count: 1\nmax_run_duration: 10m\n"
        "task_count: 2\nparallelism: 2\nmachine_type: n2-standard-8\nprovisioning_model: spot\nbudget_usd: 5\n"
        "engine: cpu\nchunk_size: 64\n"
    )
    plan = launch(settings, db, job_type_name="ingredients-spellcheck", config_path=config, limit=150)
    assert plan.submitted and plan.storage_url.startswith("gs://")
    job, status = wait_for(lambda: (r := refresh(settings, db, plan.job_id))[1].state.is_finished() and r,
                           timeout=120, interval=0.2, what="the Batch job")
    assert status.state == JobState.SUCCEEDED, status.reason
    assert job.cost_actual_usd is not None and job.cost_actual_usd > 0  # spot n2 price x task run time
    assert len(list_parts(f"{plan.storage_url}/output")) == 2
    job_json = read_json(f"{plan.storage_url}/job.json")
    assert TEST_JOB_KEY not in str(job_json)

    run = run_import(settings, db, plan.job_id)
    assert run.predictions_created == 150
    again = run_import(settings, db, plan.job_id)
    assert again.id == run.id and again.predictions_created == 150
