from __future__ import annotations

from typing import Any

import pytest

from offbatch.backends.base import JobSpec
from offbatch.config import JobConfig, parse_config

# The shipped production config's fields, small enough for tests.
BASE_CONFIG: dict[str, Any] = {
    "location": "europe-west4",
    "container_image_uri": "europe-west4-docker.pkg.dev/p/offbatch/ingredients-spellcheck:test",
    "entrypoint": "offbatch",
    "commands": ["run-task"],
    "cpu_milli": 8000,
    "memory_mib": 30000,
    "boot_disk_mib": 100000,
    "max_retry_count": 1,
    "max_run_duration": "1h",
    "task_count": 2,
    "parallelism": 2,
    "machine_type": "g2-standard-8",
    "accelerator_type": "nvidia-l4",
    "accelerator_count": 1,
    "install_gpu_drivers": True,
    "budget_usd": 25,
    "engine": "vllm",
}
TOKEN = "ingredients-spellcheck-20261124-153012.1900000000." + "ab" * 32


def make_config(**overrides: Any) -> JobConfig:
    return parse_config({**BASE_CONFIG, **overrides}, source="test")


def make_spec(job_id: str = "ingredients-spellcheck-20261124-153012", *, env: dict[str, str] | None = None,
              **overrides: Any) -> JobSpec:
    config = make_config(**overrides)
    return JobSpec(
        job_id=job_id,
        job_type="ingredients-spellcheck",
        config=config,
        env={
            "OFFBATCH_CONTRACT": "1",
            "OFFBATCH_JOB_ID": job_id,
            "OFFBATCH_IMPORT_TOKEN": TOKEN,
            "BATCH_TASK_COUNT": str(config.task_count),
            **(env or {}),
        },
        labels={"offbatch-job-id": job_id, "offbatch-job-type": "ingredients-spellcheck"},
    )


@pytest.fixture
def spec_factory() -> Any:
    return make_spec
