"""Importing a job's output: parts → predictions (bulk) → insights, one transaction per chunk.

Exactly once and resumable: each chunk's predictions, insights and the import's progress
(``parts_done``, ``rows_done`` and the counts) commit in the same transaction, fenced on the
worker's claim. A crash loses at most the uncommitted chunk; the next claim resumes at the
recorded row, so nothing is imported twice and the counts stay exact.

Row handling (documented in docs/architecture.md):
- duplicate (barcode, value_tag) rows in one job's output: the first one wins, later ones are
  counted in ``rows_skipped``;
- rows without a barcode, or with a key longer than its column, are skipped and counted;
- any text longer than ``MAX_TEXT_CHARS`` is clipped, marked ``clipped`` and the prediction is
  not actionable (a clipped correction must never be applied to a product);
- invalid UTF-8 and NUL characters are repaired by the reader.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import compress
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, update

from offbatch import notifications
from offbatch.backends import JobState
from offbatch.db.models import ImportRun, Job
from offbatch.db.session import Database
from offbatch.errors import ConflictError, ImportFailed, OffbatchError
from offbatch.imports import reader, writer
from offbatch.imports.derive import NewPrediction, derive_insights, derive_insights_sql
from offbatch.imports.queue import (
    HEARTBEAT_EVERY,
    STALE_AFTER,
    ClaimHeartbeat,
    ImportState,
    claim_next,
    claim_run,
    get_run,
    record_delivery,
    release,
    run_for_job,
)
from offbatch.jobs import JobType, PredictionRecord, get_job_type, json_columns
from offbatch.jobs.base import PREDICTION_COLUMNS, prediction_columns_of
from offbatch.settings import Settings
from offbatch.tracking import get_job

log = logging.getLogger(__name__)

CHUNK_ROWS = 5_000
MAX_TEXT_CHARS = 100_000
KEY_LIMITS = {"barcode": 100, "value_tag": 100, "predictor": 100, "predictor_version": 200}
# Chunk retries after losing a race on the one-open-insight index to another import.
CHUNK_ATTEMPTS = 3

ChunkHook = Callable[[ImportRun], None]


class ClaimLost(OffbatchError):
    """Another worker took over this import (ours was presumed dead)."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def enqueue_import(db: Database, job_id: str) -> ImportRun:
    """Record a delivery for ``job_id`` (idempotent; counts deliveries) and return its import."""
    job = get_job(db, job_id)
    return record_delivery(db, job, ready=not reader.missing_parts(job))


def run_import(
    settings: Settings,
    db: Database,
    job_id: str,
    *,
    worker_id: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: ChunkHook | None = None,
    stale_after: timedelta = STALE_AFTER,
    heartbeat_every: timedelta = HEARTBEAT_EVERY,
    poll_seconds: float = 0.5,
) -> ImportRun:
    """Import ``job_id`` now, in this process; return its finished ImportRun.

    Idempotent: an imported job's run is returned as is. If another worker is importing it,
    this waits for that import (or for its claim to go stale, then takes over). ConflictError
    if some output parts do not exist yet; ImportFailed if the output is unreadable.
    """
    job = get_job(db, job_id)
    existing = run_for_job(db, job_id)
    if existing is not None and existing.state == ImportState.SUCCEEDED:
        return existing
    missing = reader.missing_parts(job)
    if missing and job.state in (JobState.FAILED, JobState.CANCELLED):
        raise ConflictError(
            f"job {job_id} is {job.state} ({job.reason or 'no reason recorded'}): "
            f"{job.task_count - len(missing)}/{job.task_count} output parts exist, nothing is imported",
            hint=f"see offbatch logs {job_id}; rerun the unfinished shards with: offbatch resume {job_id}",
        )
    if missing:
        raise ConflictError(
            f"job {job_id} is not ready to import: {job.task_count - len(missing)}/{job.task_count} output parts exist",
            hint=f"wait for the job to finish: offbatch status {job_id}",
        )
    run = record_delivery(db, job, ready=True, delivery=False)
    worker_id = worker_id or default_worker_id()
    while True:
        if claim_run(db, run.id, worker_id=worker_id, stale_after=stale_after):
            execute(db, run.id, worker_id=worker_id, chunk_rows=chunk_rows, on_chunk=on_chunk,
                    heartbeat_every=heartbeat_every)
            run = get_run(db, run.id)
            notifications.notify(settings, db, job_id)
            if run.state == ImportState.FAILED:
                # The error was recorded on the run; raise it here too for the caller.
                raise _failure(run)
            return run
        run = get_run(db, run.id)
        if run.state == ImportState.SUCCEEDED:
            return run
        time.sleep(poll_seconds)  # another live worker holds it: wait for it to finish or go stale


def _failure(run: ImportRun) -> OffbatchError:
    return ImportFailed(f"import of {run.job_id} failed: {run.error}")


def process_queue(
    settings: Settings,
    db: Database,
    *,
    worker_id: str,
    once: bool = False,
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
    poll_seconds: float = 1.0,
    stale_after: timedelta = STALE_AFTER,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Claim and run queued imports until ``stop`` is set (or, with ``once``, the queue is empty).

    Returns the number of imports run. An import's failure is recorded on its run and logged;
    the loop goes on. Setting ``wake`` (e.g. after an enqueue) ends the idle wait early.
    """
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        run_id = claim_next(db, worker_id=worker_id, stale_after=stale_after)
        if run_id is None:
            if once:
                break
            if wake is not None:
                wake.wait(poll_seconds)
                wake.clear()
            else:
                stop.wait(poll_seconds)
            continue
        execute(db, run_id, worker_id=worker_id, chunk_rows=chunk_rows)
        notifications.notify(settings, db, get_run(db, run_id).job_id)
        done += 1
    return done


def execute(
    db: Database, run_id: int, *, worker_id: str, chunk_rows: int = CHUNK_ROWS, on_chunk: ChunkHook | None = None,
    heartbeat_every: timedelta = HEARTBEAT_EVERY,
) -> None:
    """Run one claimed import to its end, recording success or the error on the run.

    The claim is renewed by a heartbeat thread all along, so a slow import keeps it.
    """
    with ClaimHeartbeat(db, run_id, worker_id=worker_id, every=heartbeat_every):
        _execute(db, run_id, worker_id=worker_id, chunk_rows=chunk_rows, on_chunk=on_chunk)


def _execute(db: Database, run_id: int, *, worker_id: str, chunk_rows: int, on_chunk: ChunkHook | None) -> None:
    run = get_run(db, run_id)
    try:
        job = get_job(db, run.job_id)
        if reader.missing_parts(job):
            release(db, run_id, worker_id=worker_id, state=ImportState.WAITING)
            return
        job_type = get_job_type(job.job_type)
        parts = reader.inspect_parts(job, job_type, verify_from=run.parts_done)
        _import_parts(db, run, job, job_type, parts, worker_id=worker_id, chunk_rows=chunk_rows, on_chunk=on_chunk)
    except ClaimLost:
        log.warning("import %s of %s: claim lost to another worker, stopping", run_id, run.job_id)
        return
    except OffbatchError as e:
        log.error("import %s of %s failed: %s", run_id, run.job_id, e.message)
        release(db, run_id, worker_id=worker_id, state=ImportState.FAILED, error=e.message)
        return
    except Exception as e:  # a bug: keep the worker alive, record and log it with its traceback
        log.exception("import %s of %s crashed", run_id, run.job_id)
        release(db, run_id, worker_id=worker_id, state=ImportState.FAILED, error=f"internal error: {type(e).__name__}")
        return
    release(db, run_id, worker_id=worker_id, state=ImportState.SUCCEEDED)
    log.info("import %s of %s succeeded", run_id, run.job_id)


def _import_parts(
    db: Database, run: ImportRun, job: Job, job_type: JobType, parts: list[reader.Part], *,
    worker_id: str, chunk_rows: int, on_chunk: ChunkHook | None,
) -> None:
    start_part = min(run.parts_done, len(parts))
    start_row = run.rows_done - sum(p.rows for p in parts[:start_part])
    progress = {"parts_done": run.parts_done, "rows_done": run.rows_done}
    chunks = reader.iter_chunks(parts, job_type, start_part=start_part, start_row=start_row, chunk_size=chunk_rows)
    dialect = db.engine.dialect.name
    # One connection for the whole import, one transaction per chunk: a checkout per chunk cost a
    # round trip (the pool's ping on PostgreSQL) each time.
    with db.engine.connect() as conn:
        for prepared in _prefetch(_prepare(job, job_type, chunk, dialect) for chunk in chunks):
            chunk = prepared.chunk
            part_done = chunk.part_rows_done >= parts[chunk.part].rows
            new_progress = {
                "parts_done": chunk.part + 1 if part_done else chunk.part,
                "rows_done": progress["rows_done"] + chunk.batch.num_rows,
            }
            for attempt in range(CHUNK_ATTEMPTS):
                try:
                    _write_chunk(
                        conn, run.id, job, job_type, prepared, worker_id=worker_id, expect=progress, new=new_progress
                    )
                    break
                except writer.integrity_errors(dialect):
                    # Another import created the same open insight meanwhile: redo the chunk.
                    if attempt == CHUNK_ATTEMPTS - 1:
                        raise
            progress = new_progress
            if on_chunk is not None:
                on_chunk(get_run(db, run.id))


@dataclass
class Prepared:
    """A chunk turned into predictions to write, ready before its turn comes."""

    chunk: reader.Chunk
    skipped: int
    now: datetime
    # The storable predictions as one payload: COPY text (PostgreSQL, writer.copy_payload) or a
    # JSON array (SQLite, writer.json_payload); their (barcode, value_tag), in order.
    payload: memoryview
    keys: list[tuple[str, str | None]]
    # The predictions that may touch insights (actionable, with a value_tag): their index in
    # ``keys``, and (SQLite, for derive_insights) their (data, predictor, predictor_version).
    candidates: list[int]
    candidate_values: list[tuple[str, str, str]]


def _prepare(job: Job, job_type: JobType, chunk: reader.Chunk, dialect: str) -> Prepared:
    """Map, check and encode a chunk column by column (Arrow compute): no Python object per row
    but its key, and the insight candidates' values on SQLite."""
    columns = _prediction_columns(job_type, chunk.batch)
    read = columns.num_rows
    columns = columns.filter(_valid_keys(columns))
    keys = list(zip(columns.column("barcode").to_pylist(), columns.column("value_tag").to_pylist()))
    if len(set(keys)) < len(keys):
        # Duplicate (barcode, value_tag) rows in the chunk: the first one wins.
        firsts: dict[tuple[str, str | None], int] = {}
        for i, key in enumerate(keys):
            firsts.setdefault(key, i)
        columns = columns.take(pa.array(list(firsts.values()), pa.int64()))  # in row order
        keys = list(firsts)
    wanted = pc.and_(columns.column("actionable"), json_columns.truthy(columns.column("value_tag")))
    candidates = list(compress(range(len(keys)), wanted.to_pylist()))
    now = datetime.now(UTC)
    if dialect == "postgresql":
        payload = writer.copy_payload(columns, job_id=job.id, prediction_type=job_type.prediction_type, created_at=now)
        return Prepared(chunk, read - len(keys), now, payload, keys, candidates, [])
    chosen = columns.filter(wanted)
    values = list(zip(*(chosen.column(c).to_pylist() for c in ("data", "predictor", "predictor_version"))))
    return Prepared(chunk, read - len(keys), now, writer.json_payload(columns), keys, candidates, values)


def _prediction_columns(job_type: JobType, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The job type's predictions of ``batch``, with any text over ``MAX_TEXT_CHARS`` clipped.

    No value of a data can be longer than its JSON text: when no JSON text is over the limit
    (nearly always), nothing needs clipping; otherwise the chunk goes row by row through ``_clip``.
    """
    columns = job_type.prediction_columns(batch)
    if not columns.schema.equals(PREDICTION_COLUMNS):
        raise TypeError(f"job type {job_type.name}: prediction_columns gave {columns.schema}, not {PREDICTION_COLUMNS}")
    if columns.num_rows and pc.max(pc.binary_length(columns.column("data"))).as_py() > MAX_TEXT_CHARS:
        return prediction_columns_of(_clip(r) for r in job_type.predictions(batch))
    return columns


def _valid_keys(columns: pa.RecordBatch) -> pa.Array:
    """Rows with a barcode, and keys no longer than their columns (a null counts as empty)."""

    def length(name: str) -> pa.Array:
        return pc.coalesce(pc.utf8_length(columns.column(name)), _ZERO)

    # Arrow scalars: a Python value costs a conversion (and a failed import) per call, see json_columns.
    ok = pc.greater(length("barcode"), _ZERO)
    for name, limit in _KEY_LIMITS.items():
        ok = pc.and_(ok, pc.less_equal(length(name), limit))
    return ok


_ZERO = pa.scalar(0, pa.int32())
_KEY_LIMITS = {name: pa.scalar(limit, pa.int32()) for name, limit in KEY_LIMITS.items()}


_DONE = object()


def _prefetch(items: Iterator[Prepared], depth: int = 2) -> Iterator[Prepared]:
    """Yield ``items`` while a thread prepares the next ones (at most ``depth`` ahead).

    Reading Parquet and mapping rows is Python work; the database's part of a chunk is mostly
    waiting on the server or the disk, which releases the GIL; overlapping the two shortens the
    import (see docs/performance.md). Memory stays bounded: at most ``depth`` prepared chunks wait.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            q.put(e)

    thread = threading.Thread(target=produce, name="offbatch-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


def _clip(record: PredictionRecord) -> PredictionRecord:
    for value in record.data.values():
        if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            break
    else:
        return record
    data: dict[str, Any] = {
        k: (v[:MAX_TEXT_CHARS] if isinstance(v, str) else v) for k, v in record.data.items()
    }
    data["clipped"] = True
    return replace(record, data=data, actionable=False)


def _write_chunk(
    conn: Connection, run_id: int, job: Job, job_type: JobType, prepared: Prepared, *,
    worker_id: str, expect: dict[str, int], new: dict[str, int],
) -> None:
    keys, skipped, now = prepared.keys, prepared.skipped, prepared.now
    count = len(keys)
    ptype = job_type.prediction_type
    t = ImportRun.__table__
    # An explicit transaction: the COPY goes through the driver connection, unseen by SQLAlchemy,
    # which would otherwise have nothing to commit (docs/performance.md).
    with conn.begin():
        if conn.dialect.name == "postgresql":
            copied = writer.copy_predictions(conn, prepared.payload, count)
            inserted = copied.count
            created, updated = derive_insights_sql(
                conn, job_id=job.id, job_created_at=job.created_at, prediction_type=ptype,
                keys=[keys[i] for i in prepared.candidates if copied.inserted(keys[i])], now=now,
            )
        else:
            ids = writer.insert_predictions(conn, prepared.payload, keys, job_id=job.id, prediction_type=ptype,
                                            created_at=writer.timestamp("sqlite", now))
            # Only the new actionable ones can touch insights: no object for the other 3/4.
            new_predictions = [
                NewPrediction(ids[i], *keys[i], *values)
                for i, values in zip(prepared.candidates, prepared.candidate_values) if ids[i] is not None
            ]
            created, updated = derive_insights(
                conn, job_id=job.id, job_created_at=job.created_at, prediction_type=ptype,
                predictions=new_predictions, now=now,
            )
            inserted = len(ids) - ids.count(None)
        fenced = conn.execute(
            update(ImportRun)
            .where(
                ImportRun.id == run_id,
                ImportRun.claimed_by == worker_id,
                ImportRun.rows_done == expect["rows_done"],
            )
            .values(
                parts_done=new["parts_done"],
                rows_done=new["rows_done"],
                rows_skipped=t.c.rows_skipped + skipped + (count - inserted),
                predictions_created=t.c.predictions_created + inserted,
                insights_created=t.c.insights_created + created,
                insights_updated=t.c.insights_updated + updated,
                claimed_at=now,
                updated_at=now,
            )
        )
        if fenced.rowcount != 1:
            raise ClaimLost(f"import {run_id} was taken over by another worker")
