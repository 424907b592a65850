"""Job configs: every shipped YAML parses; every invalid config gets one message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from offbatch.config import load_config, parse_config
from offbatch.errors import ConfigError
from offbatch.jobs import get_job_type, job_type_names
from offbatch.jobs.base import CONFIG_DIR

SHIPPED = sorted(CONFIG_DIR.rglob("*.yaml"))
PRODUCTION = CONFIG_DIR / "ingredients-spellcheck" / "google-batch.yaml"


def base() -> dict:
    return yaml.safe_load(PRODUCTION.read_text())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_every_shipped_config_is_valid(path: Path):
    config = load_config(path)
    assert config.cost_estimate().worst_case_usd <= config.budget_usd


def test_every_job_type_ships_a_local_and_a_google_batch_config():
    for name in job_type_names():
        job_type = get_job_type(name)
        for backend in ("local", "google-batch"):
            assert job_type.config_path(backend).exists(), (name, backend)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"surprise": 1}, "surprise", "unknown key"),
        ({"cpu_milli": "8000"}, "cpu_milli", "valid integer"),
        ({"memory_mib": 10_000_000}, "memory_mib", "less than or equal to 131072"),
        ({"boot_disk_mib": 10_000_000}, "boot_disk_mib", "less than or equal to 204800"),
        ({"accelerator_count": 8}, "accelerator_count", "less than or equal to 2"),
        ({"accelerator_type": "nvidia-tesla-v100"}, "accelerator_type", "not allowed"),
        ({"location": "asia-east1"}, "location", "not allowed"),
        ({"max_run_duration": "100h"}, "max_run_duration", "less than or equal to 86400"),
        ({"max_run_duration": "soon"}, "max_run_duration", "duration like"),
        ({"max_retry_count": 11}, "max_retry_count", "less than or equal to 10"),
        ({"task_count": 0}, "task_count", "greater than or equal to 1"),
        ({"parallelism": 2}, "(config)", "parallelism (2) must not exceed task_count (1)"),
        ({"budget_usd": 1}, "(config)", "budget_usd: worst case cost $18.33"),
        ({"install_gpu_drivers": False}, "(config)", "install_gpu_drivers must be true"),
        ({"accelerator_type": None}, "(config)", "accelerator_type and accelerator_count must be set together"),
        ({"machine_type": "g2-unknown-99"}, "(config)", "machine_type 'g2-unknown-99' is not in offbatch's machine table"),
        # Google's rules, from the machine table (each was accepted before it).
        ({"accelerator_count": 2}, "(config)", "'g2-standard-8' carries exactly 1 x nvidia-l4; the request asks for 2"),
        ({"machine_type": "n2-standard-8"}, "(config)", "accelerator 'nvidia-l4' cannot be attached to machine_type 'n2-standard-8'"),
        ({"cpu_milli": 32_000}, "(config)", "cpu_milli 32000 exceeds the 8 vCPUs (8000) of 'g2-standard-8'"),
        ({"memory_mib": 128 * 1024}, "(config)", "memory_mib 131072 exceeds the 32 GiB (32768 MiB) of 'g2-standard-8'"),
        ({"machine_type": "a2-highgpu-1g", "accelerator_type": "nvidia-tesla-a100", "location": "europe-west1"},
         "(config)", "nvidia-tesla-a100 is not offered in europe-west1"),
        ({"machine_type": "n1-standard-8", "accelerator_type": "nvidia-tesla-t4", "accelerator_count": 2,
          "memory_mib": 20000, "location": "europe-west9"}, "(config)", "nvidia-tesla-t4 is not offered in europe-west9"),
        ({"env": {"HF_TOKEN": "x"}}, "env", "looks like a secret"),
        ({"env": {"OFFBATCH_JOB_ID": "x"}}, "env", "reserved for the worker contract"),
        ({"driver_version": "535.104.05"}, "driver_version", "older than R580"),
        ({"driver_version": "latest"}, "driver_version", "not an NVIDIA driver version"),
        ({"provisioning_model": "preemptible"}, "provisioning_model", "'standard' or 'spot'"),
    ],
)
def test_invalid_configs_name_the_field_and_the_limit(change, field, words):
    data = {**base(), **change}
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="test.yaml")
    message = str(err.value)
    assert message.startswith("invalid job config test.yaml: ")
    assert f"{field}: " in message
    assert words in message


def test_a_missing_field_is_named():
    data = base()
    del data["machine_type"]
    with pytest.raises(ConfigError, match="machine_type: Field required"):
        parse_config(data, source="x")


def test_durations_accept_seconds_and_units():
    assert parse_config({**base(), "max_run_duration": "90m"}, source="x").max_run_duration == 5400
    assert parse_config({**base(), "max_run_duration": 3600}, source="x").max_run_duration == 3600


def test_spot_lowers_the_worst_case():
    spot = parse_config({**base(), "provisioning_model": "spot"}, source="x")
    standard = parse_config(base(), source="x")
    assert spot.cost_estimate().worst_case_usd < standard.cost_estimate().worst_case_usd
    assert spot.hourly_price() == pytest.approx(0.538352)


def test_broken_yaml_and_missing_files_are_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("location: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(scalar)
