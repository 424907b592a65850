"""Pytest fixtures for the ``google-batch`` backend against the fake Batch service.

They are registered for every test by ``pytest_plugins`` in ``tests/conftest.py``, to run a
suite, e.g. the backend contract suite, on Google Batch without Google:

- ``fake_batch``: a started FakeBatchServer (tasks run through ``fake_batch_runner``);
- ``fake_batch_runner``: override to choose the runner (default: SubprocessRunner, the
  container's ``offbatch run-task`` run as ``python -m offbatch run-task``);
- ``google_settings``: Settings pointing the backend at the fake
  (``OFFBATCH_GOOGLE_BATCH_EMULATOR_HOST``), a project, a job key, a home under tmp_path;
- ``google_backend``: a GoogleBatchBackend built from those settings, exactly as
  ``get_backend("google-batch", settings)`` builds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offbatch.backends import get_backend
from offbatch.backends.google_batch.backend import GoogleBatchBackend
from offbatch.settings import Settings
from tests.fakes.batch_service import FakeBatchServer
from tests.fakes.task_runners import SubprocessRunner

TEST_PROJECT = "offbatch-test"
TEST_JOB_KEY = "test-job-key-0123456789abcdef-not-a-secret"

__all__ = ["TEST_JOB_KEY", "TEST_PROJECT", "fake_batch", "fake_batch_runner", "google_backend", "google_settings"]


@pytest.fixture
def fake_batch_runner() -> Any:
    return SubprocessRunner()


@pytest.fixture
def fake_batch(fake_batch_runner: Any) -> Iterator[FakeBatchServer]:
    with FakeBatchServer(runner=fake_batch_runner) as server:
        yield server


@pytest.fixture
def google_settings(fake_batch: FakeBatchServer, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        backend="google-batch",
        google_project=TEST_PROJECT,
        batch_job_key=TEST_JOB_KEY,
        google_batch_emulator_host=fake_batch.address,
        storage_url=(tmp_path / "storage").as_uri(),
    )


@pytest.fixture
def google_backend(google_settings: Settings) -> GoogleBatchBackend:
    backend = get_backend("google-batch", google_settings)
    assert isinstance(backend, GoogleBatchBackend)
    backend._follow_interval_s = 0.02
    return backend
