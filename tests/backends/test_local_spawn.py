"""How the local supervisor starts tasks: a fork of itself for offbatch's worker, exec otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from offbatch.backends.local import spawn
from offbatch.backends.local.backend import DEFAULT_TASK_COMMAND
from offbatch.config import parse_config
from offbatch.extract import extract
from offbatch.jobs import get_job_type
from offbatch.launcher import worker_env
from offbatch.storage import JobFolder
from tests.conftest import SAMPLE


def wait(process: spawn.TaskProcess, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (code := process.poll()) is None:
        assert time.monotonic() < deadline, "the task did not end"
        time.sleep(0.02)
    return code


def test_only_offbatch_s_own_worker_with_this_interpreter_is_forked():
    assert spawn.is_worker_command(DEFAULT_TASK_COMMAND)
    assert not spawn.is_worker_command(["/usr/bin/python3", "-m", "offbatch", "run-task"])
    assert not spawn.is_worker_command([sys.executable, "task.py"])


def test_a_forked_task_gets_only_its_own_environment_its_log_and_the_worker_s_exit_code(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISOR_SECRET", "not-for-tasks")
    log_path = tmp_path / "task.log"
    with open(log_path, "ab") as log:
        # No worker contract in the environment: the worker refuses it as bad input (exit 3).
        process = spawn.start(DEFAULT_TASK_COMMAND, env={"PATH": "/usr/bin:/bin"}, log=log)
        assert isinstance(process, spawn.ForkedTask)
        assert wait(process) == 3
    text = log_path.read_text()
    assert "missing worker environment" in text and "OFFBATCH_JOB_ID" in text
    assert "not-for-tasks" not in text


def test_other_commands_are_executed_as_given(tmp_path):
    log_path = tmp_path / "task.log"
    with open(log_path, "ab") as log:
        process = spawn.start([sys.executable, "-c", "import os; print(os.environ['X']); raise SystemExit(7)"],
                              env={"X": "from the spec"}, log=log)
        assert not isinstance(process, spawn.ForkedTask)
        assert wait(process) == 7
    assert log_path.read_text().strip() == "from the spec"


PRELOADED_TASK = textwrap.dedent(
    """
    import json, sys
    from offbatch.backends.local import spawn
    spawn.preload(spawn.WORKER_ARGS and [sys.executable, *spawn.WORKER_ARGS])
    before = set(sys.modules)
    from offbatch.worker import main
    code = main(json.loads(sys.argv[1]))
    print(json.dumps({"code": code, "new": sorted(set(sys.modules) - before)}))
    """
)


def test_preload_leaves_a_forked_task_nothing_to_import(home_settings, tmp_path):
    # What a task would import on its first row is paid once by the supervisor, not by every task.
    job_type = get_job_type("ingredients-spellcheck")
    folder = JobFolder(home_settings.storage_root, job_type.name, "ingredients-spellcheck-20261202-000000")
    extract(dataset=str(SAMPLE), job_type=job_type, params=job_type.Params(limit=5), folder=folder, task_count=1)
    config = parse_config({"location": "local", "cpu_milli": 1000, "memory_mib": 512, "max_run_duration": 60,
                           "machine_type": "local", "budget_usd": 1, "task_count": 1, "parallelism": 1},
                          source="test")
    env = worker_env(settings=home_settings, spec_config=config, job_type=job_type, job_id=folder.job_id,
                     folder=folder, key=None)
    env["BATCH_TASK_INDEX"] = "0"
    done = subprocess.run([sys.executable, "-c", PRELOADED_TASK, json.dumps(env)], capture_output=True, text=True,
                          check=True, timeout=120)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "new": []}, done.stderr[-2000:]
