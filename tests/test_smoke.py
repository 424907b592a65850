"""``offbatch smoke``: a one-task, few-row job with the real config whose task reports each check;
the command reads the steps back and names the one that failed.

On the local backend through the real CLI, and on Google Batch through the real client against the
fake Batch service, whose task is the real worker in a local process (this machine has no GPU: the
shipped vLLM config fails at ``nvidia-smi``, as it would on a VM without a driver).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from offbatch import smoke, storage
from offbatch.backends import JobState, get_backend
from offbatch.jobs import get_job_type
from tests.fakes.task_runners import SubprocessRunner
from tests.test_preflight import fake_nvidia_smi, fake_torch

SRC = str(Path(__file__).resolve().parents[1] / "src")
JOB_TYPE = get_job_type("ingredients-spellcheck")
CPU_ON_BATCH = (
    "location: europe-west4\n"
    "container_image_uri: europe-west4-docker.pkg.dev/p/r/ingredients-spellcheck:test\n"
    "entrypoint: offbatch\ncommands: [run-task]\n"
    "cpu_milli: 4000\nmemory_mib: 4096\nboot_disk_mib: 30000\nmax_retry_count: 1\nmax_run_duration: 10m\n"
    "task_count: 4\nparallelism: 2\nmachine_type: n2-standard-8\nbudget_usd: 5\nengine: cpu\nchunk_size: 64\n"
)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OFFBATCH_", "HF_")) and k != "BATCH_JOB_KEY"}
    return {**clean, "OFFBATCH_HOME": str(tmp_path / "home"), "PYTHONPATH": SRC, "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_OFFLINE": "1"}


def offbatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offbatch", *args], check=False, env=env, capture_output=True,
                          text=True, timeout=300)


def test_local_smoke_job_passes_every_step_and_imports_nothing(env):
    result = offbatch("smoke", "ingredients-spellcheck", "--rows", "3", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"smoke job (smoke-ingredients-spellcheck-\S+) on local: .*engine cpu, 3 rows", out)
    assert re.search(r"1 image lock +ok +not checked: OFFBATCH_IMAGE_LOCK is not set", out)
    assert re.search(r"2 model load +ok +cpu-spellcheck-\d+\+", out)
    assert re.search(r"3 generation +ok +3 rows by cpu-spellcheck-\d+\+\w+; first: '.+' -> '.+'", out)
    assert "every step passed" in out
    # Nothing of a smoke job is recorded or imported; its folder is gone.
    listed = offbatch("list", env=env)
    assert "no jobs yet" in listed.stderr and listed.stdout == ""
    assert not list((Path(env["OFFBATCH_HOME"]) / "storage" / JOB_TYPE.name).glob("smoke-*"))


def test_local_smoke_job_names_the_step_that_failed(env, tmp_path):
    config = tmp_path / "vllm-local.yaml"
    config.write_text("location: local\ncpu_milli: 1000\nmemory_mib: 1024\nmax_retry_count: 3\n"
                      "max_run_duration: 10m\ntask_count: 2\nparallelism: 2\nmachine_type: local\nbudget_usd: 1\n"
                      "engine: vllm\nchunk_size: 64\n")
    result = offbatch("smoke", "ingredients-spellcheck", "--config", str(config), env=env)
    assert result.returncode == 1
    assert re.search(r"2 nvidia-smi +FAILED +no GPU visible: nvidia-smi is not on PATH", result.stdout)
    assert "FAILED at step 2 (nvidia-smi): no GPU visible" in result.stdout
    assert "Traceback" not in result.stderr and "its input is kept for inspection" in result.stderr


def google_smoke(settings, config: Path | None = None) -> smoke.SmokeResult:
    backend = get_backend("google-batch", settings)
    run = smoke.submit(settings, job_type_name=JOB_TYPE.name, backend_name="google-batch", config_path=config,
                       backend=backend)
    assert run.config.task_count == 1 and run.config.max_retry_count == 0
    return smoke.follow(run, backend, timeout_s=240, poll_s=0.2, log_grace_s=30)


def test_google_smoke_job_passes_on_the_fake(google_settings, tmp_path, fake_batch):
    config = tmp_path / "cpu-on-batch.yaml"
    config.write_text(CPU_ON_BATCH)
    result = google_smoke(google_settings, config)
    assert result.ok, (result.state, result.reason, result.log_tail)
    assert [s.name for s in result.steps] == ["image lock", "model load", "generation"]
    assert re.match(r"3 rows by cpu-spellcheck-\d+\+", result.steps[-1].detail)
    # One task, the smoke variable, and no webhook or token in what Batch received.
    (request,) = fake_batch.service.requests
    assert request.job.task_groups[0].task_count == 1
    text = str(request)
    assert "OFFBATCH_SMOKE" in text and "OFFBATCH_IMPORT_TOKEN" not in text and "OFFBATCH_WEBHOOK_URL" not in text
    assert storage.list_parts(f"{result.run.folder.output_url}") == [result.run.folder.output_part(0)]


def test_google_smoke_job_with_the_shipped_config_fails_at_nvidia_smi(google_settings):
    """The production config (L4, vLLM) as is: the task's VM here has no NVIDIA driver."""
    result = google_smoke(google_settings)
    assert result.state == JobState.FAILED
    assert not result.ok
    assert result.failed_step is not None and result.failed_step.name == "nvidia-smi"
    assert result.failed_step.detail.startswith("no GPU visible: nvidia-smi is not on PATH")
    assert result.cause is not None and "nvidia-smi is not on PATH" in result.cause
    lines = smoke.report_lines(result)
    assert lines[-1].endswith(f"FAILED at step 2 (nvidia-smi): {result.failed_step.detail}")


class TestOldDriverOnBatch:
    @pytest.fixture
    def fake_batch_runner(self, tmp_path):
        bin_dir = fake_nvidia_smi(tmp_path / "gpu-bin", stdout="NVIDIA L4, 550.90.07\n")
        site = fake_torch(tmp_path / "site", cuda="13.0")
        return SubprocessRunner(extra_env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                                           "PYTHONPATH": f"{site}{os.pathsep}{SRC}"})

    def test_the_driver_step_fails_and_names_both_versions(self, google_settings):
        result = google_smoke(google_settings)
        assert [(s.name, s.ok) for s in result.steps] == [("image lock", True), ("nvidia-smi", True), ("driver", False)]
        assert result.steps[1].detail == "NVIDIA L4 (driver 550.90.07)"
        assert result.failed_step.detail.startswith("NVIDIA driver 550.90.07 is too old for CUDA 13.0")
        assert result.state == JobState.FAILED


def test_steps_are_parsed_from_log_lines_with_their_prefixes():
    lines = [
        "[task 0] 2026-12-02 04:00:00,000 INFO smoke step 1 image lock: ok: 212 pinned distributions match /app/x.lock",
        "2026-12-02 04:00:01,000 INFO smoke step 2 nvidia-smi: ok: NVIDIA L4 (driver 580.82.07)",
        "2026-12-02 04:00:01,500 ERROR smoke step 3 driver: FAILED: NVIDIA driver 550 is too old: a: b",
        "unrelated line",
    ]
    steps = smoke.parse_steps(lines)
    assert [(s.number, s.name, s.ok) for s in steps] == [(1, "image lock", True), (2, "nvidia-smi", True),
                                                          (3, "driver", False)]
    assert steps[2].detail == "NVIDIA driver 550 is too old: a: b"


def test_a_smoke_config_is_cut_to_one_task_and_attempt():
    from offbatch.config import load_config

    config = smoke.smoke_config(load_config(JOB_TYPE.config_path("google-batch")))
    assert (config.task_count, config.parallelism, config.max_retry_count) == (1, 1, 0)
    assert config.max_run_duration == smoke.MAX_RUN_SECONDS
    assert config.container_image_uri and config.engine == "vllm" and config.accelerator_type == "nvidia-l4"
