"""Launching a job: validate, extract, store, record, submit.

Order matters: the database row exists before the backend hears of the job (a fast task's
webhook must find it), and the input parts and ``job.json`` exist before any task starts.
Everything before the submission is Core statements on ``db/tables.py``: the ORM is not on a
launch's critical path (``resume`` uses it).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from pydantic import ValidationError
from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from offbatch import __version__, auth, contract, storage
from offbatch.backends import Backend, JobSpec, JobState, get_backend
from offbatch.config import JobConfig, format_validation_error, load_config
from offbatch.costs import CostEstimate
from offbatch.db.session import Database
from offbatch.db.tables import jobs, predictions, utcnow
from offbatch.engines import ENGINES, load_engine
from offbatch.errors import (
    BackendError,
    ConfigError,
    ConflictError,
    DatasetError,
    OffbatchError,
    StorageError,
)
from offbatch.extract import (
    Extraction,
    already_predicted,
    connect,
    no_products,
    select,
    write_shards,
)
from offbatch.jobs import JobType, get_job_type
from offbatch.settings import Settings
from offbatch.storage import JobFolder

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from offbatch.db.models import Job

MAX_JOB_ID = 63
# While a launch holds a reserved row (extracting, writing, submitting), it renews the row's
# updated_at this often; a reserved row not renewed for tracking.LAUNCH_STALE_AFTER belongs to a
# launch that died before it submitted the job (SIGKILL, a lost machine).
LAUNCH_HEARTBEAT_SECONDS = 10.0
RESERVE_ATTEMPTS = 20
# The reason a job row carries from its reservation until its submission (no backend_ref yet).
RESERVED_REASON = "launching: its input is being extracted and it is not submitted yet"


@dataclass
class LaunchPlan:
    job_id: str
    job_type: str
    backend: str
    dataset: str
    config: JobConfig
    config_path: str
    params: dict[str, Any]
    rows: int
    estimate: CostEstimate
    storage_url: str
    request: dict[str, Any]
    shard_rows: list[int] = field(default_factory=list)
    # Everything that would stop the job, found by ``preflight``: a dry run lists them all, a
    # launch refuses on them before it writes anything.
    problems: list[OffbatchError] = field(default_factory=list)
    submitted: bool = False
    # Products of this selection skipped as already predicted, when that left nothing to do.
    already_predicted: int = 0

    @property
    def nothing_new(self) -> bool:
        return self.rows == 0 and self.already_predicted > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "backend": self.backend,
            "dataset": self.dataset,
            "config_path": self.config_path,
            "params": self.params,
            "rows_selected": self.rows,
            "shard_rows": self.shard_rows,
            "storage_url": self.storage_url,
            "resources": self.config.model_dump(mode="json"),
            "cost_estimate": self.estimate.as_dict(),
            "request": self.request,
            "problems": [describe_problem(p) for p in self.problems],
            "submitted": self.submitted,
            "already_predicted": self.already_predicted,
        }

    def refusal(self) -> OffbatchError | None:
        """The error that stops this launch (all its problems, one line each), or None."""
        if not self.problems:
            return None
        if len(self.problems) == 1:
            return self.problems[0]
        lines = "\n".join(f"  - {describe_problem(p)}" for p in self.problems)
        # The exit code of the first problem's class; every problem on its own line.
        return type(self.problems[0])(
            f"cannot launch {self.job_type} on {self.backend!r}: {len(self.problems)} problems\n{lines}",
            hint="fix them and launch again; --dry-run lists them without writing anything",
        )


def describe_problem(problem: OffbatchError) -> str:
    return f"{problem.message} ({problem.hint})" if problem.hint else problem.message


@dataclass
class Preflight:
    rows: int
    problems: list[OffbatchError]
    # Products of the selection skipped as already predicted, when that left nothing to do
    # (not a problem: there is nothing new to process).
    already_predicted: int = 0


def preflight(
    settings: Settings,
    *,
    con: duckdb.DuckDBPyConnection,
    backend: Backend,
    spec: JobSpec,
    job_type: JobType,
    dataset: str,
    params: Any,
    exclude: pa.Array | None,
) -> Preflight:
    """Every check a launch makes before it writes anything, each problem collected, none raised.

    The selection runs here, into ``con``'s ``selected`` table, which the launch then writes
    as shards (one scan of the dataset for both). ``--dry-run`` and ``launch`` both run this.
    """
    problems: list[OffbatchError] = [
        ConfigError(f"cannot launch on {backend.name!r}: {p}", hint="see docs/operations.md")
        for p in backend.preflight(spec)
    ]
    # A local job key is generated on first use; any other backend needs the shared one.
    if settings.webhook_url and (settings.batch_job_key is not None or backend.name != "local"):
        try:
            settings.job_key(backend=backend.name)
        except ConfigError as e:
            problems.append(e)
    try:
        storage.check_scheme(settings.storage_root)
    except StorageError as e:
        problems.append(e)
    rows = skipped = 0
    try:
        rows = select(con, dataset=dataset, job_type=job_type, params=params, exclude_codes=exclude)
        if rows == 0:
            skipped = already_predicted(con, dataset=dataset, job_type=job_type, params=params, exclude_codes=exclude)
    except DatasetError as e:
        problems.append(e)
    else:
        if rows == 0 and not skipped:
            problems.append(no_products(dataset))
    return Preflight(rows=rows, problems=problems, already_predicted=skipped)


def new_job_id(job_type: str, *, now: datetime, suffix: str | None = None) -> str:
    """``<job_type>-YYYYMMDD-HHMMSS`` (+ ``-<suffix>``), a valid Google Batch job name."""
    job_id = f"{job_type}-{now:%Y%m%d-%H%M%S}"
    if suffix:
        job_id = f"{job_id}-{suffix}"
    if len(job_id) > MAX_JOB_ID:
        raise ConfigError(f"job id {job_id!r} is longer than {MAX_JOB_ID} characters: shorten the job type name")
    return job_id


def reserve_job(
    db: Database, *, job_type: JobType, backend_name: str, storage_root: str, config: JobConfig, now: datetime
) -> str:
    """Insert the job's row under a fresh id and return the id: the launch's claim on it.

    The id is the row's primary key, so of launches that pick the same id (same job type, same
    second) exactly one inserts it, on SQLite as on PostgreSQL (``INSERT ... ON CONFLICT DO
    NOTHING``); the others try again with a random suffix. Nothing is written to storage
    before this, so no two launches ever share a folder, whatever the storage. The row reads
    QUEUED with no backend reference (``RESERVED_REASON``) until the job is submitted.
    """
    insert = (sqlite_insert if db.is_sqlite else postgresql_insert)(jobs)
    for attempt in range(RESERVE_ATTEMPTS):
        # Two launches in one second: a short random suffix keeps ids unique.
        job_id = new_job_id(job_type.name, now=now, suffix=secrets.token_hex(2) if attempt else None)
        stmt = insert.values(
            id=job_id, job_type=job_type.name, backend=backend_name, backend_ref="", state=JobState.QUEUED.value,
            reason=RESERVED_REASON, storage_url=JobFolder(storage_root, job_type.name, job_id).url,
            task_count=config.task_count, rows_selected=0, engine=config.engine,
            config=config.model_dump(mode="json"),
        ).on_conflict_do_nothing(index_elements=["id"]).returning(jobs.c.id)
        with db.engine.begin() as conn:
            # A row comes back only if this INSERT made it (rowcount is not reliable here on psycopg).
            if conn.execute(stmt).first() is not None:
                return job_id
    raise ConflictError(f"no free job id for {job_type.name} after {RESERVE_ATTEMPTS} tries", hint="launch again")


def worker_env(*, settings: Settings, spec_config: JobConfig, job_type: JobType, job_id: str, folder: JobFolder,
               key: bytes | None) -> dict[str, str]:
    """The worker contract's variables for ``job_id``.

    With a webhook, the env carries a token for this job only, signed with ``key``; without a
    key (a dry run) the token is a placeholder, so no real token is ever made for nothing.
    """
    env = {
        contract.CONTRACT: contract.CONTRACT_VERSION,
        contract.JOB_ID: job_id,
        contract.JOB_TYPE: job_type.name,
        contract.INPUT_URL: folder.input_url,
        contract.OUTPUT_URL: folder.output_url,
        contract.ENGINE: spec_config.engine,
        contract.CHUNK_SIZE: str(spec_config.chunk_size),
        contract.TASK_COUNT: str(spec_config.task_count),
    }
    env.update(spec_config.env)
    if settings.webhook_url:
        lifetime = auth.token_lifetime(
            max_run_duration=spec_config.max_run_duration, max_retry_count=spec_config.max_retry_count
        )
        env[contract.WEBHOOK_URL] = settings.webhook_url
        env[contract.IMPORT_TOKEN] = (
            auth.issue_token(key, job_id=job_id, expires_at=time.time() + lifetime) if key else contract.REDACTED
        )
    return env


def predicted_codes(db: Database, *, job_type: JobType, engine: str, settings: Settings | None = None) -> pa.Array:
    """Barcodes that already have a prediction of ``job_type`` from ``engine``'s current version.

    The version comes from the engine built with ``settings``: for vLLM, ``model@OFFBATCH_VLLM_REVISION``
    (the commit the image bakes), as the tasks record it.
    """
    p = predictions.c
    with db.engine.connect() as conn:
        if conn.execute(sa_select(p.id).where(p.type == job_type.prediction_type).limit(1)).first() is None:
            # Nothing predicted yet (a new home): no engine to build for its version (for the CPU
            # engine, a hash of its vocabularies: ~50 ms of a small launch).
            return pa.array([], pa.string())
    version = load_engine(engine, settings=settings).version
    with db.engine.connect() as conn:
        codes = conn.scalars(
            sa_select(p.barcode).where(p.type == job_type.prediction_type, p.predictor_version == version).distinct()
        ).all()
    return pa.array(codes, pa.string())


def job_spec(
    settings: Settings, *, config: JobConfig, job_type: JobType, folder: JobFolder, backend_name: str,
    mint_token: bool = True,
) -> JobSpec:
    """The JobSpec of the job in ``folder``; ``mint_token=False`` (a dry run) makes no real token."""
    key = settings.job_key(backend=backend_name) if settings.webhook_url and mint_token else None
    env = worker_env(settings=settings, spec_config=config, job_type=job_type, job_id=folder.job_id, folder=folder,
                     key=key)
    return JobSpec(job_id=folder.job_id, job_type=job_type.name, config=config, env=env,
                   labels={"offbatch-job-id": folder.job_id, "offbatch-job-type": job_type.name})


def _params(job_type: JobType, *, limit: int | None, params: dict[str, Any]) -> Any:
    values = dict(params)
    if limit is not None:
        values["limit"] = limit
    try:
        return job_type.Params.model_validate(values)
    except ValidationError as e:
        raise ConfigError(format_validation_error("parameters", e).replace("job config ", "")) from None


def launch(settings: Settings, db: Database, **options: Any) -> LaunchPlan:
    """Plan the job; unless ``dry_run``, extract its input, record it and submit it.

    By default products that already have a prediction of this job type from the same engine
    version are skipped (incremental launches); ``include_predicted`` processes them again.

    Every check runs first (``preflight``); a dry run returns the plan with all problems found,
    a launch raises them all (``LaunchPlan.refusal``) before it writes anything. Then the job
    id is reserved (``reserve_job``), and only then is its folder written.

    ``confirm(plan) -> bool`` is asked after extraction and before anything is submitted;
    returning False abandons the launch (its input folder and reserved row are removed).
    ``now`` is the launch time the job id is made of (default: the clock). ``backend`` (default:
    the one ``backend_name`` or the settings name) lets the caller start it ahead (``prepared``).

    Keyword options: ``job_type_name``, ``backend_name``, ``backend``, ``config_path``,
    ``dataset``, ``limit``, ``params``, ``dry_run``, ``include_predicted``, ``confirm``, ``now``.
    From its reservation to its submission the job's row is renewed (``LaunchHeartbeat``): if
    this process dies in between, the row goes stale and tracking marks the job FAILED
    ("launch interrupted") instead of leaving it QUEUED for ever.
    """
    heartbeat = LaunchHeartbeat(db)
    try:
        return _launch(settings, db, heartbeat=heartbeat, **options)
    finally:
        heartbeat.stop()


def _launch(
    settings: Settings,
    db: Database,
    *,
    job_type_name: str,
    backend_name: str | None = None,
    backend: Backend | None = None,
    config_path: Path | None = None,
    dataset: str | None = None,
    limit: int | None = None,
    params: dict[str, Any] | None = None,
    dry_run: bool = False,
    include_predicted: bool = False,
    confirm: Any = None,
    now: datetime | None = None,
    heartbeat: LaunchHeartbeat,
) -> LaunchPlan:
    """``launch``'s body; ``heartbeat`` renews the row it reserves until it returns."""
    job_type = get_job_type(job_type_name)
    if backend is None:
        backend = get_backend(backend_name or settings.backend, settings)
    backend_name = backend.name
    path = config_path or job_type.config_path(backend_name)
    if config_path is None and not path.exists():
        raise ConfigError(f"job type {job_type.name!r} has no config for the {backend_name!r} backend")
    config = load_config(path)
    if config.engine not in ENGINES:
        raise ConfigError(f"invalid job config {path}: engine: unknown engine {config.engine!r}")
    backend.validate(config)
    extraction_params = _params(job_type, limit=limit, params=params or {})
    dataset = dataset or settings.dataset_path
    exclude = None if include_predicted else predicted_codes(db, job_type=job_type, engine=config.engine,
                                                                  settings=settings)
    now = now or datetime.now(UTC)

    # The id the job would get: checked and shown, reserved only once nothing stops the launch.
    folder = JobFolder(settings.storage_root, job_type.name, new_job_id(job_type.name, now=now))
    spec = job_spec(settings, config=config, job_type=job_type, folder=folder, backend_name=backend_name,
                    mint_token=False)
    started = time.perf_counter()
    con = connect(memory_limit=settings.duckdb_memory_limit)
    try:
        checked = preflight(settings, con=con, backend=backend, spec=spec, job_type=job_type, dataset=dataset,
                            params=extraction_params, exclude=exclude)
        plan = LaunchPlan(
            job_id=folder.job_id,
            job_type=job_type.name,
            backend=backend_name,
            dataset=dataset,
            config=config,
            config_path=str(path),
            params=extraction_params.model_dump(),
            rows=checked.rows,
            estimate=config.cost_estimate(rows=checked.rows),
            storage_url=folder.url,
            request=backend.describe(spec),
            problems=checked.problems,
            already_predicted=checked.already_predicted,
        )
        if 0 < plan.rows < config.task_count:
            spec = _fewer_tasks(settings, plan, spec, job_type=job_type, folder=folder, backend=backend,
                                task_count=plan.rows, mint_token=False)
            config = plan.config
            plan.estimate = config.cost_estimate(rows=plan.rows)
        # Tasks whose expected work cannot finish within max_run_duration.
        plan.problems.extend(ConfigError(f"cannot launch on {backend_name!r}: {problem}",
                                         hint="see docs/configuration.md") for problem in plan.estimate.problems)
        if dry_run or plan.nothing_new:
            return plan
        refusal = plan.refusal()
        if refusal is not None:
            raise refusal

        job_id = reserve_job(db, job_type=job_type, backend_name=backend_name, storage_root=settings.storage_root,
                             config=config, now=now)
        heartbeat.start(job_id)
        folder = JobFolder(settings.storage_root, job_type.name, job_id)
        spec = job_spec(settings, config=config, job_type=job_type, folder=folder, backend_name=backend_name)
        plan.job_id, plan.storage_url, plan.request = job_id, folder.url, backend.describe(spec)
        try:
            plan.shard_rows = write_shards(con, job_type=job_type, folder=folder, task_count=config.task_count)
        except BaseException:
            # Nothing refers to a half-written input folder yet: leave no trace of the launch.
            _abandon(db, folder)
            raise
    finally:
        con.close()
    extraction = Extraction(rows=plan.rows, shard_rows=plan.shard_rows, seconds=time.perf_counter() - started)
    try:
        if confirm is not None and not confirm(plan):
            _abandon(db, folder)
            return plan
        storage.write_json(folder.job_json_url, _job_json(plan, spec, extraction))
        _update_job(db, job_id, rows_selected=plan.rows, cost_estimate_usd=plan.estimate.expected_usd, reason=None)
    except BaseException:
        _abandon(db, folder)
        raise
    try:
        ref = backend.submit(spec)
    except OffbatchError as e:  # refused (bad request, no quota, no supervisor): not submitted
        _update_job(db, job_id, state=JobState.FAILED.value, reason=f"submit failed: {e}", finished_at=datetime.now(UTC))
        raise
    _update_job(db, job_id, backend_ref=ref)
    plan.submitted = True
    return plan


class LaunchHeartbeat:
    """Renews a reserved job row's ``updated_at`` every ``every`` seconds from a thread, until
    ``stop`` or until the row is no longer reserved (submitted, abandoned or failed)."""

    def __init__(self, db: Database, *, every: float | None = None) -> None:
        self._db, self._every = db, every or LAUNCH_HEARTBEAT_SECONDS
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, job_id: str) -> None:
        self._thread = threading.Thread(target=self._run, args=(job_id,), name=f"launch-heartbeat-{job_id}",
                                        daemon=True)
        self._thread.start()

    def _run(self, job_id: str) -> None:
        renew = sa_update(jobs).where(jobs.c.id == job_id, jobs.c.backend_ref == "",
                                       jobs.c.state == JobState.QUEUED.value)
        while not self._stopped.wait(self._every):
            try:
                with self._db.engine.begin() as conn:
                    if conn.execute(renew.values(updated_at=utcnow())).rowcount == 0:
                        return  # submitted, abandoned or failed: nothing left to renew
            except SQLAlchemyError as e:  # a missed beat only brings staleness closer
                log.warning("could not renew the reservation of %s: %s", job_id, e.__class__.__name__)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()


def _update_job(db: Database, job_id: str, **values: Any) -> None:
    """Set columns of the job's row (``updated_at`` follows, as on any update of a job)."""
    with db.engine.begin() as conn:
        conn.execute(sa_update(jobs).where(jobs.c.id == job_id).values(**values))


def _fewer_tasks(settings: Settings, plan: LaunchPlan, spec: JobSpec, *, job_type: JobType, folder: JobFolder,
                 backend: Backend, task_count: int, mint_token: bool) -> JobSpec:
    """Cap the plan's task count at its row count (no task starts with nothing to do); the new spec."""
    plan.config = plan.config.model_copy(
        update={"task_count": task_count, "parallelism": min(plan.config.parallelism, task_count)}
    )
    spec = job_spec(settings, config=plan.config, job_type=job_type, folder=folder, backend_name=plan.backend,
                    mint_token=mint_token)
    plan.request = backend.describe(spec)
    return spec


def _abandon(db: Database, folder: JobFolder) -> None:
    """Forget a reserved job that was never submitted: its folder, then its row."""
    storage.remove(folder.url, recursive=True)
    with db.engine.begin() as conn:
        conn.execute(sa_delete(jobs).where(jobs.c.id == folder.job_id, jobs.c.backend_ref == ""))


def _job_json(plan: LaunchPlan, spec: JobSpec, extraction: Extraction) -> dict[str, Any]:
    """What the job folder records about itself: config, versions, counts, never a secret."""
    payload = {
        "job_id": plan.job_id,
        "job_type": plan.job_type,
        "backend": plan.backend,
        "created_at": datetime.now(UTC).isoformat(),
        "offbatch_version": __version__,
        "contract_version": contract.CONTRACT_VERSION,
        "duckdb_version": duckdb.__version__,
        "dataset": plan.dataset,
        "params": plan.params,
        "config": plan.config.model_dump(mode="json"),
        "rows": extraction.rows,
        "shard_rows": extraction.shard_rows,
        "extraction_seconds": round(extraction.seconds, 3),
        "cost_estimate": plan.estimate.as_dict(),
        "env": spec.redacted_env(),
    }
    json.dumps(payload)  # fail here, not half-way through a write
    return payload


def resume(settings: Settings, db: Database, job_id: str) -> Job:
    """Run a finished-but-unsuccessful job's unfinished shards again, with a fresh token."""
    from offbatch.config import parse_config
    from offbatch.db.models import Job
    from offbatch.tracking import refresh

    job, status = refresh(settings, db, job_id)
    if status.state == JobState.SUCCEEDED:
        raise BackendError(f"job {job_id} already succeeded: nothing to resume")
    backend = get_backend(job.backend, settings)
    if not hasattr(backend, "resume"):
        raise BackendError(f"the {job.backend!r} backend cannot resume jobs", hint="launch a new job")
    config = parse_config(job.config, source=f"job {job_id}")
    job_type = get_job_type(job.job_type)
    folder = JobFolder(job.storage_url.rsplit("/", 2)[0], job_type.name, job_id)
    spec = job_spec(settings, config=config, job_type=job_type, folder=folder, backend_name=job.backend)
    backend.resume(job.backend_ref or job_id, spec)
    with db.session() as s:
        row = s.get(Job, job_id)
        row.state, row.reason, row.finished_at = JobState.QUEUED.value, None, None
        return row
