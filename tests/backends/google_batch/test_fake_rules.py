"""The fake Batch service refuses, with INVALID_ARGUMENT, each request Google refuses.

Every rule is broken on its own in an otherwise valid request, sent through the real client;
every shipped Google Batch config goes through the same service and is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from google.cloud import batch_v1

from offbatch.backends.base import JobSpec
from offbatch.backends.google_batch import request
from offbatch.config import load_config
from offbatch.errors import ConfigError
from offbatch.jobs.base import CONFIG_DIR
from tests.backends.google_batch.conftest import make_spec
from tests.fakes.google_batch_fixtures import TEST_PROJECT
from tests.fakes.task_runners import ScriptedRunner

Mutation = Callable[[batch_v1.CreateJobRequest], Any]


@pytest.fixture
def fake_batch_runner() -> ScriptedRunner:
    return ScriptedRunner()


def valid_request(**overrides: Any) -> batch_v1.CreateJobRequest:
    return request.build_request(make_spec(**overrides), project=TEST_PROJECT)


def _policy(r: batch_v1.CreateJobRequest) -> Any:
    return r.job.allocation_policy.instances[0]


def _spec(r: batch_v1.CreateJobRequest) -> Any:
    return r.job.task_groups[0].task_spec


def _move(r: batch_v1.CreateJobRequest, region: str) -> None:
    r.parent = f"projects/{TEST_PROJECT}/locations/{region}"
    r.job.allocation_policy.location.allowed_locations = [f"regions/{region}"]


def _accelerator(count: int = 1, type_: str = "nvidia-l4", **extra: Any) -> list[Any]:
    return [batch_v1.AllocationPolicy.Accelerator(type_=type_, count=count, **extra)]


BROKEN: dict[str, tuple[Mutation, str]] = {
    "two L4 on a g2-standard-8": (
        lambda r: setattr(_policy(r).policy, "accelerators", _accelerator(2)),
        "'g2-standard-8' carries exactly 1 x nvidia-l4"),
    "no accelerator on a g2-standard-8": (
        lambda r: setattr(_policy(r).policy, "accelerators", []), "the request asks for no accelerator"),
    "an L4 on an n2-standard-8": (
        lambda r: setattr(_policy(r).policy, "machine_type", "n2-standard-8"),
        "'nvidia-l4' cannot be attached to machine_type 'n2-standard-8'"),
    "three T4 on an n1-standard-8": (
        lambda r: (setattr(_policy(r).policy, "machine_type", "n1-standard-8"),
                   setattr(_policy(r).policy, "accelerators", _accelerator(3, "nvidia-tesla-t4"))),
        "allowed counts: 1, 2, 4"),
    "an unknown machine type": (
        lambda r: setattr(_policy(r).policy, "machine_type", "g9-huge-1"), "not in offbatch's machine table"),
    "more vCPUs than the machine": (
        lambda r: setattr(_spec(r).compute_resource, "cpu_milli", 32_000), "cpu_milli 32000 exceeds the 8 vCPUs"),
    "more memory than the machine": (
        lambda r: setattr(_spec(r).compute_resource, "memory_mib", 131_072), "memory_mib 131072 exceeds the 32 GiB"),
    "an A100 where Google has none": (
        lambda r: (_move(r, "europe-west1"), setattr(_policy(r).policy, "machine_type", "a2-highgpu-1g"),
                   setattr(_policy(r).policy, "accelerators", _accelerator(1, "nvidia-tesla-a100")),
                   setattr(_spec(r).compute_resource, "memory_mib", 30000)),
        "nvidia-tesla-a100 is not offered in europe-west1"),
    "a bare region in allowed_locations": (
        lambda r: setattr(r.job.allocation_policy.location, "allowed_locations", ["europe-west4"]),
        "is not 'regions/REGION' or 'zones/ZONE'"),
    "a region other than the job's": (
        lambda r: setattr(r.job.allocation_policy.location, "allowed_locations", ["regions/us-central1"]),
        "'regions/us-central1' is outside the job's region 'europe-west4'"),
    "a zone of another region": (
        lambda r: setattr(r.job.allocation_policy.location, "allowed_locations", ["zones/us-central1-a"]),
        "'zones/us-central1-a' is outside the job's region"),
    "an upper-case label key": (
        lambda r: r.job.labels.update({"Offbatch": "x"}), "invalid label key 'Offbatch'"),
    "a reserved label key": (
        lambda r: r.job.allocation_policy.labels.update({"goog-batch": "x"}), "invalid label key 'goog-batch'"),
    "a label value with a slash": (
        lambda r: r.job.labels.update({"source": "a/b"}), "invalid value 'a/b' of label 'source'"),
    "65 labels": (
        lambda r: r.job.labels.update({f"l{i}": "x" for i in range(63)}), "65 labels, at most 64"),
    "max_retry_count 11": (
        lambda r: setattr(_spec(r), "max_retry_count", 11), "max_retry_count 11 is outside 0-10"),
    "two lifecycle policies": (
        lambda r: _spec(r).lifecycle_policies.append(batch_v1.LifecyclePolicy(
            action=batch_v1.LifecyclePolicy.Action.RETRY_TASK,
            action_condition=batch_v1.LifecyclePolicy.ActionCondition(exit_codes=[50001]))),
        "2 lifecycle policies; Batch supports one"),
    "an empty image URI": (
        lambda r: setattr(_spec(r).runnables[0].container, "image_uri", ""), "empty image_uri"),
    "a GPU without driver installation": (
        lambda r: setattr(_policy(r), "install_gpu_drivers", False), "accelerators without install_gpu_drivers"),
    "a driver version that is not a version": (
        lambda r: setattr(_policy(r).policy, "accelerators", _accelerator(1, driver_version="latest")),
        "driver_version 'latest' is not a version"),
    "100,001 tasks": (
        lambda r: setattr(r.job.task_groups[0], "task_count", 100_001), "exceeds 100,000 tasks per task group"),
    "5,001 parallel tasks": (
        lambda r: setattr(r.job.task_groups[0], "parallelism", 5_001), "exceeds 5,000 parallel tasks per job"),
    "a job definition over 1 MB": (
        lambda r: _spec(r).environment.variables.update({"BIG": "x" * 1_100_000}), "more than 1,000,000"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_the_fake_refuses_what_google_refuses(google_backend, fake_batch, case) -> None:
    mutate, words = BROKEN[case]
    req = valid_request()
    mutate(req)
    with pytest.raises(ConfigError, match="Google Batch refused the job request") as error:
        google_backend.client.create_job(request=req)
    assert words in str(error.value)
    assert fake_batch.service.requests == []  # nothing was created


@pytest.mark.parametrize("case", ["a zone of the job's region", "a recent driver version", "a plain CPU machine"])
def test_the_fake_accepts_what_google_accepts(google_backend, fake_batch, case) -> None:
    req = valid_request()
    if case == "a zone of the job's region":
        req.job.allocation_policy.location.allowed_locations = ["zones/europe-west4-a", "zones/europe-west4-b"]
    elif case == "a recent driver version":
        _policy(req).policy.accelerators = _accelerator(1, driver_version="580.65.06")
    else:
        req = valid_request(machine_type="n2-standard-8", accelerator_type=None, accelerator_count=0,
                            install_gpu_drivers=False)
    assert google_backend.client.create_job(request=req).name.endswith(req.job_id)


GOOGLE_CONFIGS = sorted(p for p in CONFIG_DIR.rglob("*.yaml") if load_config(p).location != "local")


def test_every_job_type_ships_a_config_the_fake_checks() -> None:
    assert {p.parent.name for p in GOOGLE_CONFIGS} == {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()}


@pytest.mark.parametrize("path", GOOGLE_CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_every_shipped_google_config_passes_the_fake(google_backend, fake_batch, path) -> None:
    config = load_config(path)
    spec = JobSpec(job_id="shipped-config", job_type=path.parent.name, config=config,
                   env={"OFFBATCH_CONTRACT": "1"}, labels={"offbatch-job-id": "shipped-config",
                                                           "offbatch-job-type": path.parent.name})
    google_backend.submit(spec)
    (received,) = fake_batch.service.requests
    assert received.job.allocation_policy.instances[0].policy.machine_type == config.machine_type
    assert received.job.task_groups[0].task_spec.max_run_duration == timedelta(seconds=config.max_run_duration)
