"""How the local supervisor starts tasks: a fork of itself for offbatch's worker, exec otherwise."""

from __future__ import annotations

import sys
import time

from offbatch.backends.local import spawn
from offbatch.backends.local.backend import DEFAULT_TASK_COMMAND


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
