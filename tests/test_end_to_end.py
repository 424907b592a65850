"""End to end, as a user runs it: the real CLI in subprocesses on the embedded default."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def offbatch(*args: str, env: dict[str, str], check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "offbatch", *args], env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"offbatch {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OFFBATCH_") and k != "BATCH_JOB_KEY"}
    return {**clean, "OFFBATCH_HOME": str(home), "PYTHONPATH": SRC}


def test_launch_wait_runs_imports_and_shows_insights(env):
    launched = offbatch("launch", "ingredients-spellcheck", "--wait", env=env)
    out = launched.stdout
    job_id = re.search(r"submitted (ingredients-spellcheck-\d{8}-\d{6}(?:-[0-9a-f]{4})?) to local: 539 products", out).group(1)
    assert f"{job_id}: SUCCEEDED" in out
    imported = re.search(r"imported: (\d+) predictions, (\d+) insights created", out)
    predictions, insights = int(imported.group(1)), int(imported.group(2))
    assert predictions == 539
    assert 0 < insights < predictions  # only changed, untruncated corrections become insights

    listed = offbatch("list", "--json", env=env)
    assert [j["job_id"] for j in json.loads(listed.stdout)] == [job_id]

    status = json.loads(offbatch("status", job_id, "--json", env=env).stdout)
    assert status["state"] == "SUCCEEDED"
    assert [t["state"] for t in status["tasks"]] == ["SUCCEEDED", "SUCCEEDED"]
    assert status["import"]["predictions_created"] == 539

    logs = offbatch("logs", job_id, env=env).stdout
    assert "[task 0]" in logs and "[task 1]" in logs and "wrote" in logs

    shown = offbatch("insights", "--limit", "50", env=env).stdout
    assert shown.count("\n") >= min(insights, 50)

    # Importing again changes nothing and says so, instead of showing the counts as new.
    again = offbatch("import", job_id, env=env)
    assert again.stderr.startswith(f"{job_id} was already imported at ")
    assert "nothing new to import" in again.stderr and not again.stdout.startswith("import ")
    # Launching again skips what this engine version predicted: nothing new is not an error, and
    # the count is of this selection's products (5 here), not of every prediction (539).
    relaunch = offbatch("launch", "ingredients-spellcheck", "--limit", "5", env=env)
    assert "submitted" not in relaunch.stdout
    assert relaunch.stderr.splitlines()[-2:] == [
        ("nothing new to process: the 5 products this selection picks already have predictions from this engine "
         "version"),
        "hint: pass --include-predicted to process them again",
    ]


def test_bad_input_gets_one_line_errors(env, tmp_path):
    cases = [
        (["launch", "no-such-type"], "unknown job type 'no-such-type'"),
        (["launch", "ingredients-spellcheck", "--dataset", str(tmp_path / "missing.parquet")], "dataset not found"),
        (["status", "ingredients-spellcheck-20000101-000000"], "no job"),
        (["launch", "ingredients-spellcheck", "--param", "max_fraction=2"], "max_fraction"),
    ]
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("location: local\nmachine_type: local\ncpu_milli: '1000'\n")
    cases.append((["launch", "ingredients-spellcheck", "--config", str(bad_config)], "cpu_milli"))
    for args, words in cases:
        result = offbatch(*args, env=env, check=False)
        assert result.returncode != 0, args
        first = result.stderr.strip().splitlines()[0]
        assert first.startswith("error: ") and words in first, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_dry_run_prints_the_plan_and_submits_nothing(env, home):
    result = offbatch("launch", "ingredients-spellcheck", "--dry-run", env=env)
    plan = json.loads(result.stdout)
    assert plan["rows_selected"] == 539
    assert plan["resources"]["task_count"] == 2
    assert plan["submitted"] is False
    assert not (home / "local-backend").exists()
    assert not (home / "storage").exists()


def test_google_batch_dry_run_on_a_fresh_clone_prints_request_estimate_and_problems(env, home):
    key = "k" * 40
    env = {**env, "OFFBATCH_API_URL": "https://offbatch.example.org", "OFFBATCH_BATCH_JOB_KEY": key}
    result = offbatch("launch", "ingredients-spellcheck", "--backend", "google-batch", "--dry-run", env=env,
                      check=False)
    assert result.returncode == 2  # problems found: a ConfigError's exit code
    plan = json.loads(result.stdout)
    task_spec = plan["request"]["job"]["taskGroups"][0]["taskSpec"]
    assert task_spec["runnables"][0]["container"]["imageUri"].endswith("ingredients-spellcheck:0.1.0")
    assert task_spec["environment"]["variables"]["OFFBATCH_IMPORT_TOKEN"] == "<redacted>"
    assert plan["cost_estimate"]["worst_case_usd"] == pytest.approx(18.33)
    assert any("OFFBATCH_STORAGE_URL=gs://" in p for p in plan["problems"])
    assert any("OFFBATCH_GOOGLE_PROJECT is not set" in p for p in plan["problems"])
    assert "error: cannot launch ingredients-spellcheck on 'google-batch': 2 problems" in result.stderr
    assert key not in result.stdout + result.stderr
    # The real launch refuses before extracting anything.
    refused = offbatch("launch", "ingredients-spellcheck", "--backend", "google-batch", "--yes", env=env, check=False)
    assert refused.returncode != 0 and "cannot reach" in refused.stderr
    assert not (home / "storage").exists()


def test_tasks_notify_offbatch_serve_which_imports_once(env, home):
    import httpx

    from tests.conftest import wait_for
    from tests.fakes.gcs_fixtures import free_port

    port = free_port()
    env = {**env, "OFFBATCH_API_URL": f"http://127.0.0.1:{port}"}
    offbatch("db", "upgrade", env=env)
    server = subprocess.Popen([sys.executable, "-m", "offbatch", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_for(lambda: _up(f"{base}/batch/jobs"), timeout=30, what="offbatch serve to answer")
        launched = offbatch("launch", "ingredients-spellcheck", "--limit", "120", env=env)
        job_id = re.search(r"submitted (\S+) to local", launched.stdout).group(1)
        # Both tasks notify; the import waits for every part, so it runs once whichever delivery
        # comes first. The second delivery may land after the import has succeeded (its task
        # posts after writing its part, which the import may already have read): wait for both.
        job = wait_for(
            lambda: (j := httpx.get(f"{base}/batch/jobs/{job_id}").json())["imports"]
            and j["imports"]["state"] == "succeeded" and j["imports"]["deliveries"] >= 2 and j,
            timeout=300, interval=0.2, what="the webhook-triggered import and both deliveries",
        )
        assert job["imports"]["deliveries"] == 2
        assert job["imports"]["predictions_created"] == 120
        insights = httpx.get(f"{base}/insights").json()
        assert insights["count"] == job["imports"]["insights_created"] > 0
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    token_key = (home / "batch_job_key").read_text().strip()
    assert token_key not in output
    assert "Bearer" not in output


def _up(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_job_whose_tasks_fail_ends_failed_with_its_reason_and_imports_nothing(env, tmp_path):
    # A local config asking for the vLLM engine, which this machine does not have.
    config = tmp_path / "vllm-local.yaml"
    config.write_text(
        "location: local\ncpu_milli: 1000\nmemory_mib: 1024\nmax_retry_count: 2\nmax_run_duration: 5m\n"
        "task_count: 2\nparallelism: 2\nmachine_type: local\nbudget_usd: 1\nengine: vllm\n"
    )
    result = offbatch("launch", "ingredients-spellcheck", "--config", str(config), "--wait", env=env, check=False)
    assert result.returncode == 1
    job_id = re.search(r"submitted (\S+) to local", result.stdout).group(1)
    assert f"{job_id}: FAILED" in result.stdout and "bad input or environment" in result.stdout
    status = json.loads(offbatch("status", job_id, "--json", env=env).stdout)
    assert [t["attempts"] for t in status["tasks"]] == [1, 1]  # not retried: retrying cannot help
    # The task's one-line cause (here its preflight: no GPU, or no torch) is in its log and in status.
    cause = status["tasks"][0]["reason"].split("not retried): ", 1)[1]
    assert cause in offbatch("logs", job_id, "--task", "0", env=env).stdout
    refused = offbatch("import", job_id, env=env, check=False)
    assert refused.returncode != 0 and "is FAILED" in refused.stderr
    assert status["import"] is None
