"""Processes the local backend started, named so that a reused pid is never mistaken for them.

A pid alone is not an identity: once a process ends, the kernel may give its pid to any new
process. A process is named here by its pid *and* its start time (field 22 of
``/proc/<pid>/stat``, clock ticks after boot), which no other process with that pid can share.
Where there is no ``/proc`` (not Linux) the start time is ``None`` and a live pid is trusted.

Tasks run as leaders of their own session and process group (pgid == pid), so stopping a
task signals its whole group: the worker and anything it started.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ProcessId:
    pid: int
    started: int | None  # clock ticks after boot; None where /proc is missing

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid=pid, started=start_time(pid))

    def alive(self) -> bool:
        """True while this very process runs (not a zombie, not another process with its pid)."""
        stat = _stat(self.pid)
        if stat is None:
            if Path("/proc/self/stat").exists():
                return False
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        state, started = stat
        return state not in ("Z", "X") and (self.started is None or started == self.started)


def start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) from /proc/<pid>/stat, or None if there is no such process (or /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')': cut after the last.
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[19])  # fields 3 and 22


def wait_for_exit(processes: Sequence[ProcessId], *, timeout: float) -> None:
    """Block until one of ``processes`` has ended, or ``timeout`` seconds have passed.

    Returns at once if one has already ended (a zombie counts: an unreaped child has ended). An
    early return is a hint, not a promise: callers check what changed. Waits on pidfds (Linux
    5.3+), so the return follows the exit within microseconds instead of a polling interval;
    where pidfds are missing it sleeps ``timeout``.
    """
    fds: list[int] = []
    try:
        for process in processes:
            try:
                fds.append(os.pidfd_open(process.pid))
            except ProcessLookupError:
                return  # already reaped: ended
            except (AttributeError, OSError):  # no pidfd_open here (not Linux, old kernel)
                time.sleep(timeout)
                return
            # Checked after opening: the pidfd names this very process, not a later one with its pid.
            if not process.alive():
                return
        if not fds:
            time.sleep(timeout)
            return
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        poller.poll(max(0, int(timeout * 1000)))
    finally:
        for fd in fds:
            os.close(fd)


def stop_groups(processes: list[ProcessId], *, grace: float) -> list[ProcessId]:
    """SIGTERM the process group of each live process, SIGKILL what is left after ``grace`` s.

    Returns the processes that were running. Blocks until they have all exited (a killed process
    that is not our child is reaped by init at once) or ``grace`` + 10 s have passed.
    """
    running = [p for p in processes if p.alive()]
    for p in running:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    killed = False
    while True:
        left = [p for p in running if p.alive()]
        if not left:
            return running
        now = time.monotonic()
        if not killed and now > deadline:
            for p in left:
                _signal_group(p, signal.SIGKILL)
            killed, deadline = True, now + 10.0
        elif killed and now > deadline:
            return running
        time.sleep(POLL_SECONDS)


def kill(process: ProcessId) -> None:
    """SIGKILL ``process`` alone (not its group) if it still runs."""
    if process.alive():
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _signal_group(process: ProcessId, sig: signal.Signals) -> None:
    if not process.alive():  # checked just before: never signal a stranger who got the pid
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            os.kill(process.pid, sig)
        except ProcessLookupError:
            pass
