"""Bad input at task start: each wrong environment fails the task before any row, with one line
naming the cause (in the task's log, in storage for ``offbatch status``) and exit 3.

The task is the real worker (``python -m offbatch run-task``) in a subprocess; what it probes is
injected the honest way: an ``nvidia-smi`` script on PATH, a ``torch/version.py`` on PYTHONPATH,
a lock file, an empty Hugging Face cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from offbatch import contract, storage
from tests.test_preflight import fake_nvidia_smi, fake_torch
from tests.test_worker import SRC, make_job, task_env

SHA = "0123456789abcdef0123456789abcdef01234567"


def run_task(env: dict[str, str], *, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offbatch", "run-task"], check=False, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def base_env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OFFBATCH_", "HF_", "BATCH_")) and k != "PYTHONPATH"}
    (tmp_path / "bin").mkdir()
    # PATH without any nvidia-smi (this machine has none), plus what the tests add.
    return {**clean, "PATH": f"{tmp_path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "PYTHONPATH": SRC, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
            "OFFBATCH_HOME": str(tmp_path / "home")}


def assert_failed_before_any_row(result, folder, *, cause: str) -> str:
    assert result.returncode == contract.EXIT_BAD_INPUT, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, result.stderr  # one line naming the cause
    assert cause in errors[0]
    assert "Traceback" not in result.stderr
    assert not storage.exists(folder.output_part(0))
    assert not storage.exists(storage.chunks_url(folder.output_url, 0))
    recorded = storage.read_bytes(storage.failure_url(folder.output_url, 0)).decode()
    assert cause in recorded and "\n" not in recorded
    return recorded


def test_no_gpu_visible(tmp_path, base_env):
    folder = make_job(tmp_path / "s", "job-nogpu", limit=20)
    env = {**base_env, **task_env(folder), contract.ENGINE: "vllm", "OFFBATCH_VLLM_REVISION": SHA}
    result = run_task(env)
    assert_failed_before_any_row(result, folder, cause="no GPU visible: nvidia-smi is not on PATH")


def test_an_nvidia_smi_that_sees_no_driver(tmp_path, base_env):
    folder = make_job(tmp_path / "s", "job-nodriver", limit=20)
    fake_nvidia_smi(tmp_path / "bin", code=9,
                    stdout="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n")
    env = {**base_env, **task_env(folder), contract.ENGINE: "vllm"}
    assert_failed_before_any_row(run_task(env), folder, cause="no GPU visible: nvidia-smi exited 9: NVIDIA-SMI has")


def test_a_driver_too_old_for_the_cuda_runtime(tmp_path, base_env):
    folder = make_job(tmp_path / "s", "job-olddriver", limit=20)
    fake_nvidia_smi(tmp_path / "bin", stdout="NVIDIA L4, 550.90.07\n")
    site = fake_torch(tmp_path / "site", cuda="13.0")  # its __init__ raises: the check must not import it
    env = {**base_env, **task_env(folder), contract.ENGINE: "vllm", "PYTHONPATH": f"{site}{os.pathsep}{SRC}"}
    assert_failed_before_any_row(
        run_task(env), folder, cause="NVIDIA driver 550.90.07 is too old for CUDA 13.0 (torch's runtime needs driver >= 580)"
    )


def test_an_image_built_from_a_wrong_lock(tmp_path, base_env):
    folder = make_job(tmp_path / "s", "job-lock", limit=20)
    lock = tmp_path / "requirements.lock"
    lock.write_text("pyarrow==0.0.1\n")
    env = {**base_env, **task_env(folder), "OFFBATCH_IMAGE_LOCK": str(lock)}  # even the CPU engine checks it
    assert_failed_before_any_row(run_task(env), folder, cause="image built from a wrong lock: 1 of 1 pinned")


def test_a_missing_model_revision(tmp_path, base_env):
    folder = make_job(tmp_path / "s", "job-norev", limit=20)
    env = {**base_env, **task_env(folder), contract.ENGINE: "vllm", "OFFBATCH_VLLM_DEVICE": "cpu",
           "OFFBATCH_VLLM_MODEL": "openfoodfacts/spellcheck-mistral-7b", "OFFBATCH_VLLM_REVISION": SHA}
    assert_failed_before_any_row(
        run_task(env), folder,
        cause=f"model openfoodfacts/spellcheck-mistral-7b revision {SHA} is not in the Hugging Face cache",
    )


def test_a_branch_name_offline_without_its_ref_says_to_use_the_sha(tmp_path, base_env):
    folder = make_job(tmp_path / "s", "job-main", limit=20)
    # The weights are there (snapshot_download(revision=<sha>) left them) but no refs/main.
    snapshot = Path(base_env["HF_HOME"]) / "hub" / "models--openfoodfacts--spellcheck-mistral-7b" / "snapshots" / SHA
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    env = {**base_env, **task_env(folder), contract.ENGINE: "vllm", "OFFBATCH_VLLM_DEVICE": "cpu"}
    recorded = assert_failed_before_any_row(run_task(env), folder, cause="revision main is not in the Hugging Face cache")
    assert "set OFFBATCH_VLLM_REVISION to the baked commit sha" in recorded


def test_the_failure_line_reaches_offbatch_status(tmp_path, base_env):
    """On the local backend: the job fails at once (no retry) and ``status`` shows the task's line."""
    env = {**base_env, "OFFBATCH_VLLM_REVISION": SHA}
    config = tmp_path / "vllm-local.yaml"
    config.write_text("location: local\ncpu_milli: 1000\nmemory_mib: 1024\nmax_retry_count: 2\nmax_run_duration: 10m\n"
                      "task_count: 1\nmachine_type: local\nbudget_usd: 1\nengine: vllm\nchunk_size: 64\n")
    run = subprocess.run([sys.executable, "-m", "offbatch", "launch", "ingredients-spellcheck", "--config", str(config),
                          "--limit", "20", "--wait"], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "FAILED" in run.stdout and "no GPU visible: nvidia-smi is not on PATH" in run.stdout
    job_id = run.stdout.split("submitted ", 1)[1].split()[0]
    status = subprocess.run([sys.executable, "-m", "offbatch", "status", job_id], check=False, env=env, capture_output=True,
                            text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "no GPU visible: nvidia-smi is not on PATH" in status.stdout
    assert "attempts" in status.stdout and "retrying" not in status.stdout
