"""Launching a job: validate, extract, store, record, submit.

Order matters: the database row exists before the backend hears of the job (a fast task's
webhook must find it), and the input parts and ``job.json`` exist before any task starts.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import ValidationError
from sqlalchemy import select as sa_select

from offbatch import __version__, auth, contract, storage
from offbatch.backends import Backend, JobSpec, JobState, get_backend
from offbatch.config import JobConfig, format_validation_error, load_config
from offbatch.costs import CostEstimate
from offbatch.db.models import Job, Prediction
from offbatch.db.session import Database
from offbatch.engines import ENGINES, load_engine
from offbatch.errors import BackendError, ConfigError
from offbatch.extract import Extraction, extract, select
from offbatch.jobs import JobType, get_job_type
from offbatch.settings import Settings
from offbatch.storage import JobFolder

MAX_JOB_ID = 63


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
    # What would stop the job (storage tasks cannot reach, a missing project...): a dry run lists them.
    problems: list[str] = field(default_factory=list)
    submitted: bool = False

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
            "problems": self.problems,
            "submitted": self.submitted,
        }


def new_job_id(job_type: str, *, now: datetime, suffix: str | None = None) -> str:
    """``<job_type>-YYYYMMDD-HHMMSS`` (+ ``-<suffix>``), a valid Google Batch job name."""
    job_id = f"{job_type}-{now:%Y%m%d-%H%M%S}"
    if suffix:
        job_id = f"{job_id}-{suffix}"
    if len(job_id) > MAX_JOB_ID:
        raise ConfigError(f"job id {job_id!r} is longer than {MAX_JOB_ID} characters: shorten the job type name")
    return job_id


def _unique_job_id(db: Database, job_type: str) -> str:
    now = datetime.now(UTC)
    job_id = new_job_id(job_type, now=now)
    with db.session() as s:
        while s.get(Job, job_id) is not None:
            # Two launches in one second: a short random suffix keeps ids unique.
            job_id = new_job_id(job_type, now=now, suffix=secrets.token_hex(2))
    return job_id


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
    version = load_engine(engine, settings=settings).version
    with db.session() as s:
        codes = s.scalars(
            sa_select(Prediction.barcode)
            .where(Prediction.type == job_type.prediction_type, Prediction.predictor_version == version)
            .distinct()
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


def launch(
    settings: Settings,
    db: Database,
    *,
    job_type_name: str,
    backend_name: str | None = None,
    config_path: Path | None = None,
    dataset: str | None = None,
    limit: int | None = None,
    params: dict[str, Any] | None = None,
    dry_run: bool = False,
    include_predicted: bool = False,
    confirm: Any = None,
) -> LaunchPlan:
    """Plan the job; unless ``dry_run``, extract its input, record it and submit it.

    By default products that already have a prediction of this job type from the same engine
    version are skipped (incremental launches); ``include_predicted`` processes them again.

    ``confirm(plan) -> bool`` is asked after extraction and before anything is recorded or
    submitted; returning False abandons the launch (its input folder is removed).
    """
    job_type = get_job_type(job_type_name)
    backend_name = backend_name or settings.backend
    backend: Backend = get_backend(backend_name, settings)
    path = config_path or job_type.config_path(backend_name)
    if config_path is None and not path.exists():
        raise ConfigError(f"job type {job_type.name!r} has no config for the {backend_name!r} backend")
    config = load_config(path)
    if config.engine not in ENGINES:
        raise ConfigError(f"invalid job config {path}: engine: unknown engine {config.engine!r}")
    backend.validate(config)
    extraction_params = _params(job_type, limit=limit, params=params or {})
    dataset = dataset or settings.dataset_path

    job_id = _unique_job_id(db, job_type.name)
    folder = JobFolder(settings.storage_root, job_type.name, job_id)
    spec = job_spec(settings, config=config, job_type=job_type, folder=folder, backend_name=backend_name,
                    mint_token=not dry_run)
    plan = LaunchPlan(
        job_id=job_id,
        job_type=job_type.name,
        backend=backend_name,
        dataset=dataset,
        config=config,
        config_path=str(path),
        params=extraction_params.model_dump(),
        rows=0,
        estimate=config.cost_estimate(),
        storage_url=folder.url,
        request=backend.describe(spec),
        problems=backend.preflight(spec),
    )
    if plan.problems and not dry_run:
        raise ConfigError(f"cannot launch on {backend_name!r}: {plan.problems[0]}", hint="see docs/operations.md")
    exclude = None if include_predicted else predicted_codes(db, job_type=job_type, engine=config.engine,
                                                                  settings=settings)
    if dry_run:
        con = duckdb.connect()
        try:
            plan.rows = select(con, dataset=dataset, job_type=job_type, params=extraction_params, exclude_codes=exclude)
        finally:
            con.close()
        plan.estimate = config.cost_estimate(rows=plan.rows)
        return plan

    try:
        extraction: Extraction = extract(
            dataset=dataset, job_type=job_type, params=extraction_params, folder=folder,
            task_count=config.task_count, exclude_codes=exclude, memory_limit=settings.duckdb_memory_limit,
        )
    except BaseException:
        # Nothing refers to a half-written input folder yet: leave no trace of the launch.
        storage.remove(folder.url, recursive=True)
        raise
    plan.rows, plan.shard_rows = extraction.rows, extraction.shard_rows
    plan.estimate = config.cost_estimate(rows=plan.rows)
    if confirm is not None and not confirm(plan):
        storage.remove(folder.url, recursive=True)
        return plan

    storage.write_json(folder.job_json_url, _job_json(plan, spec, extraction))
    with db.session() as s:
        s.add(
            Job(
                id=job_id,
                job_type=job_type.name,
                backend=backend_name,
                backend_ref="",
                state=JobState.QUEUED.value,
                storage_url=folder.url,
                task_count=config.task_count,
                rows_selected=plan.rows,
                engine=config.engine,
                config=config.model_dump(mode="json"),
                cost_estimate_usd=plan.estimate.expected_usd,
            )
        )
    try:
        ref = backend.submit(spec)
    except BackendError as e:
        with db.session() as s:
            job = s.get(Job, job_id)
            job.state, job.reason, job.finished_at = JobState.FAILED.value, f"submit failed: {e}", datetime.now(UTC)
        raise
    with db.session() as s:
        s.get(Job, job_id).backend_ref = ref
    plan.submitted = True
    return plan


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
