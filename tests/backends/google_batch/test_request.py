"""The CreateJobRequest built from a config: every field reaches it, secrets never show."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from offbatch.backends.google_batch import request
from offbatch.backends.google_batch.backend import PROJECT_PLACEHOLDER, GoogleBatchBackend
from offbatch.config import DEFAULT_DRIVER_VERSION, MIN_DRIVER_MAJOR
from offbatch.errors import ConfigError
from offbatch.settings import Settings
from tests.backends.google_batch.conftest import TOKEN, make_spec
from tests.fakes.google_batch_fixtures import TEST_JOB_KEY

JOB = "ingredients-spellcheck-20261124-153012"


def test_every_config_field_reaches_the_request() -> None:
    spec = make_spec(
        image_streaming=True,
        provisioning_model="spot",
        max_retry_count=3,
        max_run_duration="2h",
        task_count=4,
        parallelism=3,
        cpu_milli=6000,
        memory_mib=20000,
        boot_disk_mib=50000,
        commands=["run-task", "--verbose"],
        env={"HF_HUB_OFFLINE": "1"},
        driver_version="580.126.09",
    )
    got = request.request_as_json(request.build_request(spec, project="proj"))
    assert got == {
        "parent": "projects/proj/locations/europe-west4",
        "jobId": JOB,
        "job": {
            "taskGroups": [
                {
                    "taskSpec": {
                        "runnables": [
                            {
                                "container": {
                                    "imageUri": "europe-west4-docker.pkg.dev/p/offbatch/ingredients-spellcheck:test",
                                    "entrypoint": "offbatch",
                                    "commands": ["run-task", "--verbose"],
                                    "enableImageStreaming": True,
                                },
                                "displayName": "ingredients-spellcheck",
                            }
                        ],
                        "computeResource": {"cpuMilli": "6000", "memoryMib": "20000", "bootDiskMib": "50000"},
                        "maxRunDuration": "7200s",
                        "maxRetryCount": 3,
                        "lifecyclePolicies": [
                            {"action": "FAIL_TASK", "actionCondition": {"exitCodes": [3, 50005]}}
                        ],
                        "environment": {
                            "variables": {
                                "OFFBATCH_CONTRACT": "1",
                                "OFFBATCH_JOB_ID": JOB,
                                "OFFBATCH_IMPORT_TOKEN": TOKEN,
                                "HF_HUB_OFFLINE": "1",
                            }
                        },
                    },
                    "taskCount": "4",
                    "parallelism": "3",
                }
            ],
            "allocationPolicy": {
                "location": {"allowedLocations": ["regions/europe-west4"]},
                "instances": [
                    {
                        "policy": {
                            "machineType": "g2-standard-8",
                            "provisioningModel": "SPOT",
                            "accelerators": [{"type": "nvidia-l4", "count": "1", "driverVersion": "580.126.09"}],
                        },
                        "installGpuDrivers": True,
                    }
                ],
                "labels": {"offbatch-job-id": JOB, "offbatch-job-type": "ingredients-spellcheck"},
            },
            "labels": {"offbatch-job-id": JOB, "offbatch-job-type": "ingredients-spellcheck"},
            "logsPolicy": {"destination": "CLOUD_LOGGING"},
        },
    }


def test_standard_provisioning_and_no_accelerator_for_a_cpu_machine() -> None:
    spec = make_spec(machine_type="n2-standard-8", accelerator_type=None, accelerator_count=0,
                     install_gpu_drivers=False)
    policy = request.request_as_json(request.build_request(spec, project="p"))["job"]["allocationPolicy"]
    assert policy["instances"] == [{"policy": {"machineType": "n2-standard-8", "provisioningModel": "STANDARD"}}]


def test_the_default_driver_is_r580_or_newer_and_reaches_the_accelerator() -> None:
    accelerator = request.build_job(make_spec(), redact=False).allocation_policy.instances[0].policy.accelerators[0]
    assert accelerator.driver_version == DEFAULT_DRIVER_VERSION
    assert int(accelerator.driver_version.split(".")[0]) >= MIN_DRIVER_MAJOR


def test_variables_batch_sets_itself_are_not_sent() -> None:
    variables = request.build_job(make_spec(), redact=False).task_groups[0].task_spec.environment.variables
    assert "BATCH_TASK_COUNT" not in variables and "BATCH_TASK_INDEX" not in variables


def test_describe_shows_no_secret(tmp_path) -> None:
    settings = Settings(home=tmp_path, google_project="proj", batch_job_key=TEST_JOB_KEY,
                        google_credentials="eyJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCJ9")
    text = json.dumps(GoogleBatchBackend(settings).describe(make_spec()))
    assert TOKEN not in text
    assert TOKEN.rsplit(".", 1)[-1] not in text
    assert TEST_JOB_KEY not in text
    assert "eyJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCJ9" not in text
    assert '"OFFBATCH_IMPORT_TOKEN": "<redacted>"' in text


def test_describe_works_without_a_project_but_submit_does_not(tmp_path) -> None:
    backend = GoogleBatchBackend(Settings(home=tmp_path))
    assert backend.describe(make_spec())["parent"] == f"projects/{PROJECT_PLACEHOLDER}/locations/europe-west4"
    with pytest.raises(ConfigError, match="OFFBATCH_GOOGLE_PROJECT"):
        backend.submit(make_spec())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"container_image_uri": None}, "container_image_uri"),
        ({"location": "local", "machine_type": "local", "accelerator_type": None, "accelerator_count": 0,
          "install_gpu_drivers": False}, "location"),
    ],
)
def test_validate_names_the_field(tmp_path, overrides, field) -> None:
    backend = GoogleBatchBackend(Settings(home=tmp_path, google_project="p"))
    with pytest.raises(ConfigError, match=field):
        backend.validate(make_spec(**overrides).config)


def test_importing_the_backend_does_not_load_the_google_sdk() -> None:
    code = (
        "import sys, offbatch.backends.google_batch.backend as b; "
        "print(sorted(m for m in sys.modules if m.startswith(('google.cloud', 'grpc'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_submit_refuses_input_that_tasks_on_google_cannot_reach(tmp_path) -> None:
    backend = GoogleBatchBackend(Settings(home=tmp_path, google_project="p"))
    spec = make_spec(env={"OFFBATCH_INPUT_URL": "file:///home/me/.offbatch/storage/x/input"})
    with pytest.raises(ConfigError, match="cannot reach"):
        backend.submit(spec)


def test_the_gcp_extra_requires_the_first_client_that_can_cancel() -> None:
    # cancel_job and the CANCELLATION_* states first appear in google-cloud-batch 0.17.34.
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    (batch,) = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["gcp"]
                if Requirement(r).name == "google-cloud-batch"]
    assert not batch.specifier.contains("0.17.33") and batch.specifier.contains("0.17.34")
