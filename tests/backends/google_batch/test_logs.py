"""Reading a job's logs from the fake Cloud Logging: agent lines, late lines, bounded queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from offbatch.backends.google_batch.logs import LogReader
from tests.backends.google_batch.conftest import make_spec
from tests.backends.google_batch.test_backend import wait_for
from tests.fakes.google_batch_fixtures import TEST_PROJECT
from tests.fakes.task_runners import ScriptedRunner


@pytest.fixture
def fake_batch_runner() -> ScriptedRunner:
    return ScriptedRunner()


@pytest.fixture
def finished_job(google_backend, fake_batch):
    ref = google_backend.submit(make_spec(task_count=2, parallelism=2))
    wait_for(google_backend, ref)
    return google_backend.client.get_job(ref)


def test_follow_keeps_a_late_line_stamped_before_lines_already_shown(google_settings, fake_batch,
                                                                     finished_job) -> None:
    job, store = finished_job, fake_batch.service.logs
    created = job.create_time
    store.write(job, task=1, attempt=0, text="task 1, shown first", timestamp=created + timedelta(seconds=20))
    polls = []

    def finished() -> bool:
        polls.append(1)
        if len(polls) == 2:
            # Task 0's line, stamped 10 s before the line shown, reaches Cloud Logging only now.
            store.write(job, task=0, attempt=0, text="task 0, arrived late", timestamp=created + timedelta(seconds=10))
        return len(polls) >= 2

    reader = LogReader.from_settings(google_settings, project=TEST_PROJECT)
    lines = list(reader.read(job_uid=job.uid, follow=True, finished=finished, interval_s=0.01, since=created))
    written = [line for line in lines if line.endswith((", shown first", ", arrived late"))]
    assert written == ["[task 1] task 1, shown first", "[task 0] task 0, arrived late"]
    assert len(lines) == len(set(lines))  # looking back showed nothing twice


def test_every_query_is_bounded_by_the_jobs_create_time(google_backend, fake_batch, finished_job) -> None:
    store = fake_batch.service.logs
    # A line of the same job stamped before it existed cannot be its own: never asked for.
    store.write(finished_job, task=0, attempt=0, text="before", timestamp=finished_job.create_time - timedelta(hours=1))
    lines = list(google_backend.logs(finished_job.name))
    assert "[task 0] before" not in lines and lines
    assert store.queries and all(f'timestamp>="{finished_job.create_time.isoformat()}"' in q for q in store.queries)


def test_agent_lines_are_read_and_marked(google_backend, finished_job) -> None:
    lines = list(google_backend.logs(finished_job.name, task=0))
    agent = [line for line in lines if line.startswith("[agent] ")]
    assert "[agent] Installing GPU drivers" in agent and len(agent) < len(lines)
