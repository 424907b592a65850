"""How the supervisor starts a task's process: exec of the task command, or a fork of itself.

A task is a process of its own either way: its own session (so its whole group can be
signalled), its own environment, stdin from /dev/null, stdout and stderr into its log, an exit
code the supervisor reads back. Starting one as ``python -m offbatch run-task`` pays for a
Python start-up and the worker's imports (pyarrow, fsspec, pydantic, the engine) in every task
and every retry: ~0.5 s of CPU, 2 s of wall time when 8 tasks start on 2 cores, more than the
work of a small shard. When the task command is offbatch's own worker, the supervisor imports
the worker once (``preload``) and forks a copy of itself per task that calls the worker's
``main`` directly, like multiprocessing's forkserver. Any other command is exec'd as given.

Forking is safe here because the supervisor has no threads and has opened nothing a task would
share by accident: the fork happens from its main loop, fsspec drops cached filesystems in a
child (their pid differs), and the child leaves with ``os._exit`` so it never runs the
supervisor's own clean-up.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import IO, Protocol

# The worker's entry point, as the local backend's default task command spells it.
WORKER_ARGS = ("-m", "offbatch", "run-task")


class TaskProcess(Protocol):
    pid: int

    def poll(self) -> int | None: ...


def is_worker_command(command: Sequence[str]) -> bool:
    """Whether ``command`` runs offbatch's worker with this very interpreter."""
    return len(command) == 1 + len(WORKER_ARGS) and command[0] == sys.executable and tuple(command[1:]) == WORKER_ARGS


def preload(command: Sequence[str]) -> None:
    """Load what a forked task runs, once, before the first fork (no-op for other commands).

    Not only the worker's own imports: also what a task would otherwise load on its first
    row, each time, in each task (measured: ~0.1 s of CPU per task on an 8-product job):
    the job types' modules, ``pyarrow.compute`` (which pyarrow imports on the first cast),
    fsspec's local filesystem, and the CPU engine's version (a hash of its vocabularies).
    """
    if not is_worker_command(command):
        return
    import pyarrow.compute  # noqa: F401

    import offbatch.worker  # noqa: F401
    from offbatch import storage
    from offbatch.engines.cpu import CpuSpellcheckEngine  # the default engine
    from offbatch.jobs import job_type_names

    job_type_names()
    storage.filesystem("file:///")
    CpuSpellcheckEngine().version  # noqa: B018 - cached for the tasks (vocabulary_digest)


def start(command: Sequence[str], *, env: Mapping[str, str], log: IO[bytes]) -> TaskProcess:
    """Start one task's process (see the module doc); never blocks on it."""
    if is_worker_command(command):
        return ForkedTask.start(env=env, log=log)
    return subprocess.Popen(
        list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class ForkedTask:
    """A task forked from the supervisor, polled like a ``subprocess.Popen``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    @classmethod
    def start(cls, *, env: Mapping[str, str], log: IO[bytes]) -> ForkedTask:
        for stream in (sys.stdout, sys.stderr, log):
            stream.flush()
        pid = os.fork()
        if pid:
            return cls(pid)
        _run_worker(env, log.fileno())  # never returns

    def poll(self) -> int | None:
        """The exit code once the task has ended (negative: killed by that signal), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _run_worker(env: Mapping[str, str], log_fd: int) -> None:
    """In the forked child: become the task's process, run the worker, leave with its exit code."""
    code = 1
    try:
        os.setsid()
        # The supervisor turns SIGTERM into a cancel request; a task must die of it, as an exec'd one would.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the supervisor's other files, as Popen's close_fds
        # Python's streams and logging start afresh on the new descriptors, as in a new process.
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        os.environ.clear()
        os.environ.update(env)
        from offbatch.worker import main

        code = main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - a forked child must always reach os._exit
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
