"""Shared fixtures: a migrated database per test, on SQLite always and on PostgreSQL when
``OFFBATCH_TEST_DATABASE_URL`` is set; settings and storage in a temporary home; job outputs.

PostgreSQL isolation: this test session creates its own uniquely named database on that server
(migrated once, dropped at the end) and empties its tables before each test, so concurrent test
runs of other people on the same server never see each other.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from offbatch.db.models import Job
from offbatch.db.session import Database
from offbatch.jobs import get_job_type
from offbatch.settings import Settings, load_settings
from offbatch.storage import JobFolder

# Fakes of Google services, as fixtures for every test (gs:// emulator, Batch service).
pytest_plugins = ["tests.fakes.gcs_fixtures", "tests.fakes.google_batch_fixtures"]

PG_ENV = "OFFBATCH_TEST_DATABASE_URL"
TABLES = "notifications, product_updates, insights, predictions, imports, jobs"
TEST_KEY = "test-batch-job-key-0123456789abcdef"

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "offbatch.db"
    db = Database(f"sqlite:///{path}", auto_migrate=True)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = make_url(os.environ[PG_ENV])
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"offbatch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # a generated identifier, not input
    url = base.set(database=name).render_as_string(hide_password=False)
    db = Database(url, auto_migrate=True)
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "offbatch.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, auto_migrate=False)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=db_url,
        storage_url=(tmp_path / "storage").as_uri(),
        batch_job_key=TEST_KEY,
        annotation_token="test-annotation-token-0123456789",
    )


def output_row(code: str, *, lang: str = "fr", original: str = "sucre, farine", correction: str | None = None,
               truncated: bool = False, engine: str = "cpu", version: str = "1") -> dict[str, Any]:
    return {
        "code": code, "lang": lang, "original": original,
        "correction": original if correction is None else correction,
        "truncated": truncated, "engine": engine, "engine_version": version,
    }


JobFactory = Callable[..., Job]


@pytest.fixture
def make_job(db: Database, settings: Settings) -> JobFactory:
    """Write real output parts (the job type's output_schema) and insert the job row, as a launch would."""
    job_type = get_job_type("ingredients-spellcheck")
    counter = iter(range(1_000_000))

    def factory(parts: list[list[dict[str, Any]]], *, job_id: str | None = None, task_count: int | None = None,
                state: str = "SUCCEEDED", created_at: datetime | None = None, write: bool = True) -> Job:
        job_id = job_id or f"ingredients-spellcheck-20260101-000000-{next(counter):04d}"
        folder = JobFolder(settings.storage_root, job_type.name, job_id)
        if write:
            write_parts(folder, parts, job_type.output_schema)
        job = Job(
            id=job_id, job_type=job_type.name, backend="local", backend_ref=job_id, state=state,
            storage_url=folder.url, task_count=task_count or len(parts),
            rows_selected=sum(len(p) for p in parts), engine="cpu", config={"location": "local", "machine_type": "local"},
            created_at=created_at or datetime.now(UTC),
        )
        with db.session() as s:
            s.add(job)
        return job

    return factory


def write_parts(folder: JobFolder, parts: list[list[dict[str, Any]]], schema: pa.Schema, *,
                row_group_size: int = 10_000) -> None:
    for index, rows in enumerate(parts):
        path = Path(folder.output_part(index).removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=row_group_size)


# --- embedded-home fixtures (CLI, local backend) ----------------------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "offbatch" / "data" / "off-food-sample.parquet"
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _never_the_users_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real per-user home (~/.offbatch): each gets a temporary one."""
    monkeypatch.setenv("OFFBATCH_HOME", str(tmp_path_factory.mktemp("user-home")))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty OFFBATCH_HOME, with every other OFFBATCH_* setting unset: the embedded default."""
    home = tmp_path / "home"
    for name in ("OFFBATCH_DATABASE_URL", "OFFBATCH_STORAGE_URL", "OFFBATCH_BACKEND", "OFFBATCH_API_URL",
                 "OFFBATCH_BATCH_JOB_KEY", "BATCH_JOB_KEY", "OFFBATCH_DATASET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OFFBATCH_HOME", str(home))
    return home


@pytest.fixture
def home_settings(home: Path) -> Settings:
    return load_settings()


def wait_for(predicate: Callable[[], T], *, timeout: float = 60.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
