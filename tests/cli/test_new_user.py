"""What a new user hit, each fixed: re-running the demo, Ctrl-C while waiting, cancel and import
messages, a repeated import, one task per row at most."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from offbatch.errors import EXIT_INTERRUPTED, ConflictError
from tests.cli.conftest import finished, offbatch

ROOT = Path(__file__).resolve().parents[2]
SLOW_CONFIG = ("location: local\ncpu_milli: 1000\nmemory_mib: 1024\nmax_retry_count: 0\nmax_run_duration: 10m\n"
               "task_count: {tasks}\nparallelism: 1\nmachine_type: local\nbudget_usd: 1\nengine: cpu\n")


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / ".core").exists(),
                    reason="needs make and the project's .venv (make demo installs it)")
def test_make_demo_runs_again_and_says_there_is_nothing_new(env):
    first = subprocess.run(["make", "-s", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                           check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "imported: 539 predictions" in first.stdout
    second = subprocess.run(["make", "-s", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                           check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert ("nothing new to process: the 539 products this selection picks already have predictions"
            in second.stderr)
    assert "--include-predicted" in second.stderr
    assert "submitted" not in second.stdout
    assert "of" in second.stderr and "insights" in second.stderr  # the insights listing still ran


def test_ctrl_c_while_waiting_leaves_the_job_running_and_says_how_to_import_it(env, tmp_path):
    config = tmp_path / "slow.yaml"
    config.write_text(SLOW_CONFIG.format(tasks=2))
    process = subprocess.Popen([sys.executable, "-m", "offbatch", "launch", "ingredients-spellcheck", "--limit", "30",
                                "--config", str(config), "--wait"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        # Once a progress line shows, the command is following the job: interrupt it there.
        progress = []
        for line in process.stderr:
            progress.append(line)
            if re.match(r"(QUEUED|SCHEDULED|RUNNING): \d+/30 rows; tasks: ", line):
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == EXIT_INTERRUPTED, err
    job_id = re.search(r"submitted (\S+) to local", out).group(1)
    assert f"interrupted: {job_id} keeps running" in err
    assert f"offbatch import {job_id}" in err and "Traceback" not in err
    # Progress lines are counts in words, not a Python dict.
    assert re.fullmatch(r"(QUEUED|SCHEDULED|RUNNING): \d+/30 rows; tasks: (\d+ (pending|running|succeeded)(, )?)+\n",
                        progress[-1]), progress
    assert "{" not in "".join(progress)
    assert finished(job_id, env)["state"] == "SUCCEEDED"  # it did keep running
    imported = offbatch("import", job_id, env=env).stdout
    assert "30 predictions" in imported


def test_cancel_says_cancel_requested_and_import_of_the_cancelled_job_suggests_resume(env, tmp_path):
    config = tmp_path / "slow.yaml"
    # 100 one-product tasks one after the other: still running when cancel comes (a task forked from
    # the warm supervisor takes a few tens of ms: 6 tasks of 5 products could end first).
    config.write_text(SLOW_CONFIG.format(tasks=100))
    launched = offbatch("launch", "ingredients-spellcheck", "--limit", "100", "--config", str(config), env=env)
    job_id = re.search(r"submitted (\S+) to local", launched.stdout).group(1)
    cancelled = offbatch("cancel", job_id, env=env)
    assert cancelled.stdout.startswith(f"{job_id}: cancel requested")
    assert finished(job_id, env)["state"] == "CANCELLED"
    again = offbatch("cancel", job_id, env=env)
    assert again.stdout.strip() == f"{job_id} already ended CANCELLED: nothing to cancel"
    refused = offbatch("import", job_id, env=env, check=False)
    assert refused.returncode == ConflictError.exit_code
    assert refused.stderr.startswith(f"error: job {job_id} is CANCELLED")
    assert f"offbatch resume {job_id}" in refused.stderr


def test_a_one_row_launch_starts_one_task(env):
    plan = json.loads(offbatch("launch", "ingredients-spellcheck", "--limit", "1", "--dry-run", env=env).stdout)
    assert plan["rows_selected"] == 1 and plan["resources"]["task_count"] == 1
    assert plan["resources"]["parallelism"] == 1
    launched = offbatch("launch", "ingredients-spellcheck", "--limit", "1", "--wait", env=env)
    assert "1 products in 1 task(s)" in launched.stdout
    job_id = re.search(r"submitted (\S+) to local", launched.stdout).group(1)
    status = json.loads(offbatch("status", job_id, "--json", env=env).stdout)
    assert status["task_count"] == 1 and len(status["tasks"]) == 1
    assert status["tasks"][0]["state"] == "SUCCEEDED"
    inputs = Path(status["storage_url"].removeprefix("file://")) / "input"
    assert sorted(p.name for p in inputs.iterdir()) == ["part-00000.parquet"]
