"""The local backend passes the backend contract suite with the real worker."""

from __future__ import annotations

import itertools

import pytest

from offbatch.backends import JobSpec
from offbatch.backends.local.backend import LocalBackend
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
def backend(home_settings) -> LocalBackend:
    return LocalBackend(home_settings)


@pytest.fixture
def launch_spec(home_settings):
    def make(*, task_count: int = 1, parallelism: int = 1, token: str | None = None) -> JobSpec:
        job_id = f"ingredients-spellcheck-20261124-0000{next(_ids):02d}"
        config = parse_config({"location": "local", "cpu_milli": 1000, "memory_mib": 512, "max_run_duration": 120,
                               "machine_type": "local", "budget_usd": 1, "task_count": task_count,
                               "parallelism": parallelism, "chunk_size": 64}, source="test")
        folder = JobFolder(home_settings.storage_root, JOB_TYPE.name, job_id)
        extract(dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params(limit=60), folder=folder,
                task_count=task_count)
        env = worker_env(settings=home_settings, spec_config=config, job_type=JOB_TYPE, job_id=job_id, folder=folder,
                         key=home_settings.job_key())
        if token:
            env["OFFBATCH_IMPORT_TOKEN"] = token
        return JobSpec(job_id=job_id, job_type=JOB_TYPE.name, config=config, env=env, labels={})

    return make


class TestLocalBackendContract(BackendContract):
    pass
