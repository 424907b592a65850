"""The google-batch backend passes the backend contract suite: the real google-cloud-batch
client against the fake Batch service, whose tasks run the real worker (``offbatch run-task``
as ``python -m offbatch run-task``) on real input."""

from __future__ import annotations

import itertools

import pytest

from offbatch.backends import JobSpec
from offbatch.config import parse_config
from offbatch.extract import extract
from offbatch.jobs import get_job_type
from offbatch.launcher import worker_env
from offbatch.storage import JobFolder
from tests.backends.contract import BackendContract
from tests.conftest import SAMPLE

JOB_TYPE = get_job_type("ingredients-spellcheck")
_ids = itertools.count()


@pytest.fixture
def backend(google_backend):
    return google_backend


@pytest.fixture
def launch_spec(google_settings):
    def make(*, task_count: int = 1, parallelism: int = 1, token: str | None = None) -> JobSpec:
        job_id = f"ingredients-spellcheck-20261124-0000{next(_ids):02d}"
        config = parse_config(
            {"location": "europe-west4", "container_image_uri": "europe-west4-docker.pkg.dev/p/r/worker:test",
             "entrypoint": "offbatch", "commands": ["run-task"], "cpu_milli": 2000, "memory_mib": 2048,
             "max_run_duration": 120, "machine_type": "n2-standard-8", "budget_usd": 5, "engine": "cpu",
             "task_count": task_count, "parallelism": parallelism, "chunk_size": 64},
            source="test",
        )
        folder = JobFolder(google_settings.storage_root, JOB_TYPE.name, job_id)
        extract(dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params(limit=60), folder=folder,
                task_count=task_count)
        env = worker_env(settings=google_settings, spec_config=config, job_type=JOB_TYPE, job_id=job_id,
                         folder=folder, key=google_settings.job_key())
        if token:
            env["OFFBATCH_IMPORT_TOKEN"] = token
        labels = {"offbatch-job-id": job_id, "offbatch-job-type": JOB_TYPE.name}
        return JobSpec(job_id=job_id, job_type=JOB_TYPE.name, config=config, env=env, labels=labels)

    return make


class TestGoogleBatchBackendContract(BackendContract):
    pass
