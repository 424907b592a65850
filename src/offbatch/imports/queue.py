"""The durable import queue: one ImportRun row per job, claimed by one worker at a time.

States::

    waiting --(every output part exists, next delivery)--> queued --(claim)--> running
    running --> succeeded | failed | waiting (parts vanished) ;  failed --(delivery)--> queued

Deliveries upsert the job's single row atomically (``INSERT ... ON CONFLICT (job_id) DO UPDATE``),
so ten concurrent webhooks make one row with ``deliveries = 10`` and one import. Claims are
atomic: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, one conditional ``UPDATE ...
RETURNING`` on SQLite (whose writers are serialised). While a worker holds a claim, a
``ClaimHeartbeat`` thread renews ``claimed_at`` every ``HEARTBEAT_EVERY``, whatever the import is
doing (reading a large part, waiting on a lock), and each chunk's commit renews it too; a
``running`` row whose heartbeat is older than ``stale_after`` belongs to a dead worker and may be
claimed again within seconds, while a live but slow worker keeps its claim. Every progress write
is fenced on ``claimed_by``, so a worker that lost its claim cannot commit another chunk.
Heartbeats are stamped with the worker's clock: hosts sharing a database must keep their clocks
in sync to well under ``STALE_AFTER`` (NTP does).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Self

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from offbatch.db.models import ImportRun, Job
from offbatch.db.session import Database
from offbatch.errors import NotFoundError

log = logging.getLogger(__name__)

# A live worker renews its claim this often; one whose claim is not renewed for STALE_AFTER is
# presumed dead. The ratio leaves room for several missed beats on a loaded machine (a beat
# may wait on SQLite's write lock behind a chunk's commit).
HEARTBEAT_EVERY = timedelta(seconds=2)
STALE_AFTER = timedelta(seconds=15)


class ImportState(StrEnum):
    WAITING = "waiting"  # delivered, but some output parts do not exist yet
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    def is_finished(self) -> bool:
        return self in (ImportState.SUCCEEDED, ImportState.FAILED)


def _now() -> datetime:
    return datetime.now(UTC)


def _dialect_insert(db: Database):
    return (sqlite.insert if db.is_sqlite else postgresql.insert)(ImportRun)


def get_run(db: Database, run_id: int) -> ImportRun:
    with db.session() as s:
        run = s.get(ImportRun, run_id)
        if run is None:
            raise NotFoundError(f"no import {run_id}")
        return run


def run_for_job(db: Database, job_id: str) -> ImportRun | None:
    with db.session() as s:
        return s.scalars(select(ImportRun).where(ImportRun.job_id == job_id)).one_or_none()


def record_delivery(db: Database, job: Job, *, ready: bool, delivery: bool = True) -> ImportRun:
    """Create or refresh the job's import row in one atomic upsert; return the row.

    A new row starts ``queued`` when every output part exists, else ``waiting``. An existing
    ``waiting`` or ``failed`` row moves to ``queued``/``waiting`` the same way (a new delivery
    retries a failed import); ``queued``, ``running`` and ``succeeded`` rows keep their state.
    ``delivery`` counts the call in ``deliveries`` (webhooks do; reconcile and the CLI do not).
    """
    state = ImportState.QUEUED if ready else ImportState.WAITING
    now = _now()
    t = ImportRun.__table__
    stmt = _dialect_insert(db).values(
        job_id=job.id, state=state.value, deliveries=int(delivery), parts_total=job.task_count,
        created_at=now, updated_at=now,
    )
    retry = t.c.state.in_([ImportState.WAITING.value, ImportState.FAILED.value])
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.job_id],
        set_={
            "deliveries": t.c.deliveries + int(delivery),
            "state": case((retry, stmt.excluded.state), else_=t.c.state),
            "error": case((retry, None), else_=t.c.error),
            "parts_total": stmt.excluded.parts_total,
            "updated_at": now,
        },
    )
    with db.engine.begin() as conn:
        conn.execute(stmt)
    run = run_for_job(db, job.id)
    assert run is not None
    return run


def _claimable(now: datetime, stale_after: timedelta):
    return or_(
        ImportRun.state == ImportState.QUEUED.value,
        and_(ImportRun.state == ImportState.RUNNING.value, ImportRun.claimed_at < now - stale_after),
    )


def claim_next(db: Database, *, worker_id: str, stale_after: timedelta = STALE_AFTER) -> int | None:
    """Claim the oldest queued (or stale running) import; return its id, or None if none."""
    now = _now()
    claim = {"state": ImportState.RUNNING.value, "claimed_by": worker_id, "claimed_at": now, "updated_at": now}
    with db.engine.begin() as conn:
        if db.is_sqlite:
            pick = select(ImportRun.id).where(_claimable(now, stale_after)).order_by(ImportRun.id).limit(1)
            stmt = (
                update(ImportRun)
                .where(ImportRun.id == pick.scalar_subquery(), _claimable(now, stale_after))
                .values(**claim)
                .returning(ImportRun.id)
            )
            return conn.execute(stmt).scalar_one_or_none()
        pick = (
            select(ImportRun.id)
            .where(_claimable(now, stale_after))
            .order_by(ImportRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        run_id = conn.execute(pick).scalar_one_or_none()
        if run_id is not None:
            conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(**claim))
        return run_id


def claim_run(db: Database, run_id: int, *, worker_id: str, stale_after: timedelta = STALE_AFTER) -> bool:
    """Claim one given import unless it succeeded or a live worker holds it."""
    now = _now()
    stmt = (
        update(ImportRun)
        .where(
            ImportRun.id == run_id,
            or_(
                ImportRun.state.in_(
                    [ImportState.QUEUED.value, ImportState.WAITING.value, ImportState.FAILED.value]
                ),
                _claimable(now, stale_after),
            ),
        )
        .values(state=ImportState.RUNNING.value, claimed_by=worker_id, claimed_at=now, updated_at=now, error=None)
    )
    with db.engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def release(db: Database, run_id: int, *, worker_id: str, state: ImportState, error: str | None = None) -> bool:
    """End a claim with ``state``; fenced: does nothing if the claim was lost."""
    now = _now()
    values: dict[str, object] = {"state": state.value, "error": error, "claimed_by": None, "updated_at": now}
    if state.is_finished():
        values["finished_at"] = now
    stmt = update(ImportRun).where(ImportRun.id == run_id, ImportRun.claimed_by == worker_id).values(**values)
    with db.engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def fail_unclaimed(db: Database, run_id: int, *, error: str) -> None:
    """Mark an import that nobody holds as failed (reconcile: its job failed)."""
    now = _now()
    stmt = (
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.state.in_([ImportState.WAITING.value, ImportState.QUEUED.value]))
        .values(state=ImportState.FAILED.value, error=error, updated_at=now, finished_at=now)
    )
    with db.engine.begin() as conn:
        conn.execute(stmt)


def heartbeat(db: Database, run_id: int, *, worker_id: str) -> bool:
    """Renew ``worker_id``'s claim on a running import; False if the claim is no longer its own."""
    now = _now()
    stmt = (
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.claimed_by == worker_id,
               ImportRun.state == ImportState.RUNNING.value)
        .values(claimed_at=now)
    )
    with db.engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


class ClaimHeartbeat:
    """A thread renewing a claim every ``every`` until the block ends or the claim is lost.

    A beat that fails (the database briefly unreachable) is logged and retried at the next
    beat; the claim then ages, and may be taken over if the outage outlasts ``STALE_AFTER``, in
    which case the fenced chunk writes stop this worker.
    """

    def __init__(self, db: Database, run_id: int, *, worker_id: str, every: timedelta = HEARTBEAT_EVERY) -> None:
        self.db, self.run_id, self.worker_id, self.every = db, run_id, worker_id, every
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"offbatch-import-heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            try:
                if not heartbeat(self.db, self.run_id, worker_id=self.worker_id):
                    self.lost.set()
                    return
            except Exception:  # keep beating: a dead database fails the chunks anyway
                log.warning("import %s: heartbeat failed", self.run_id, exc_info=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
