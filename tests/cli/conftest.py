"""The real CLI in subprocesses, on an embedded home of its own (never the user's ~/.offbatch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for

SRC = str(Path(__file__).resolve().parents[2] / "src")


def offbatch(*args: str, env: dict[str, str], check: bool = True, timeout: float = 180,
             cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "offbatch", *args], env=env, capture_output=True, text=True, check=False,
                            timeout=timeout, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"offbatch {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OFFBATCH_") and k not in ("BATCH_JOB_KEY", "NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return {**env, "PYTHONPATH": SRC, **extra}


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return clean_env(OFFBATCH_HOME=str(home))


def finished(job_id: str, env: dict[str, str], timeout: float = 180) -> dict:
    return wait_for(
        lambda: (s := json.loads(offbatch("status", job_id, "--json", env=env).stdout))["state"]
        in ("SUCCEEDED", "FAILED", "CANCELLED") and s,
        timeout=timeout, interval=0.5, what=f"{job_id} to finish",
    )


@pytest.fixture(scope="module")
def done_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str]]:
    """One small job launched, finished and imported, shared by a module's read-only tests."""
    home = tmp_path_factory.mktemp("cli") / "home"
    env = clean_env(OFFBATCH_HOME=str(home))
    out = offbatch("launch", "ingredients-spellcheck", "--limit", "30", "--wait", env=env).stdout
    job_id = out.split("submitted ", 1)[1].split()[0]
    yield env, job_id
