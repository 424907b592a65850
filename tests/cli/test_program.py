"""The program's exit (``offbatch.cli.run``): it skips the interpreter's teardown, nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from offbatch import errors
from tests.cli.conftest import offbatch


def _program(prelude: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = f"{prelude}\nfrom offbatch.cli import run\nrun()"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_command_leaves_its_sqlite_database_closed(env, home: Path):
    # A connection left open at exit would leave the WAL beside the database (the teardown closed it).
    offbatch("list", env=env)
    assert (home / "offbatch.db").exists()
    assert not (home / "offbatch.db-wal").exists()


def test_exit_codes_and_error_lines_are_those_of_main(env):
    result = offbatch("status", "no-such-job", env=env, check=False)
    assert result.returncode == errors.NotFoundError.exit_code
    assert result.stderr.startswith("error: no job 'no-such-job'")


def test_atexit_handlers_still_run(env):
    result = _program("import atexit\natexit.register(print, 'atexit ran')", "list", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("atexit ran")


def test_a_thread_still_running_gets_the_normal_exit(env):
    # The normal exit waits for non-daemon threads; the fast one would kill this one mid-way.
    prelude = ("import threading, time\n"
               "threading.Thread(target=lambda: (time.sleep(0.5), print('thread finished', flush=True))).start()")
    result = _program(prelude, "list", env=env)
    assert result.returncode == 0, result.stderr
    assert "thread finished" in result.stdout
