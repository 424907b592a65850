"""The backend contract suite: every backend passes the same tests.

A backend test module provides a ``backend`` fixture and a ``launch_spec`` factory fixture (a
JobSpec whose tasks run the real worker on real input), then subclasses ``BackendContract``.
"""

from __future__ import annotations

import pytest

from offbatch.backends import Backend, JobState, TaskState
from offbatch.contract import IMPORT_TOKEN, REDACTED
from offbatch.errors import BackendError, NotFoundError
from offbatch.storage import list_parts
from tests.conftest import wait_for


def finished(backend: Backend, ref: str, timeout: float = 90.0):
    return wait_for(lambda: (s := backend.status(ref)).state.is_finished() and s, timeout=timeout,
                    interval=0.1, what=f"{ref} to finish")


class BackendContract:
    def test_runs_a_job_to_success_with_every_task(self, backend, launch_spec):
        spec = launch_spec(task_count=2, parallelism=2)
        ref = backend.submit(spec)
        first = backend.status(ref)
        assert first.job_id == spec.job_id
        assert first.state in {JobState.QUEUED, JobState.SCHEDULED, JobState.RUNNING, JobState.SUCCEEDED}
        status = finished(backend, ref)
        assert status.state == JobState.SUCCEEDED, status.reason
        assert [t.state for t in status.tasks] == [TaskState.SUCCEEDED, TaskState.SUCCEEDED]
        assert all(t.attempts >= 1 and t.run_seconds > 0 for t in status.tasks)
        assert len(list_parts(spec.env["OFFBATCH_OUTPUT_URL"])) == 2

    def test_status_and_list_see_the_job(self, backend, launch_spec):
        spec = launch_spec()
        ref = backend.submit(spec)
        finished(backend, ref)
        assert spec.job_id in {s.job_id for s in backend.list()}

    def test_logs_hold_each_task_output(self, backend, launch_spec):
        spec = launch_spec()
        ref = backend.submit(spec)
        finished(backend, ref)
        lines = list(backend.logs(ref, task=0))
        assert any("wrote" in line and "part-00000.parquet" in line for line in lines)

    def test_cancel_of_a_finished_job_changes_nothing(self, backend, launch_spec):
        ref = backend.submit(launch_spec())
        finished(backend, ref)
        backend.cancel(ref)
        backend.cancel(ref)
        assert backend.status(ref).state == JobState.SUCCEEDED

    def test_a_second_submit_of_the_same_job_is_refused(self, backend, launch_spec):
        spec = launch_spec()
        ref = backend.submit(spec)
        with pytest.raises(BackendError):
            backend.submit(spec)
        finished(backend, ref)

    def test_an_unknown_job_is_not_found(self, backend):
        with pytest.raises(NotFoundError):
            backend.status("ingredients-spellcheck-20000101-000000")
        with pytest.raises(NotFoundError):
            backend.cancel("ingredients-spellcheck-20000101-000000")

    def test_describe_redacts_the_token(self, backend, launch_spec):
        spec = launch_spec(token="secret-token-" + "z" * 40)
        text = repr(backend.describe(spec))
        assert "secret-token-" not in text
        assert REDACTED in text or IMPORT_TOKEN not in text
