"""Job notifications: a job's state changes and its import's end, POSTed as signed JSON to
``OFFBATCH_NOTIFY_URL``, exactly once per change whichever process tracks the job.

Contract:

| what | how |
|---|---|
| events | ``job.running``, ``job.succeeded``, ``job.failed`` (with the reason), ``job.cancelled``, ``import.succeeded``, ``import.failed`` (with the error) |
| who sends | any tracker that sees the change: ``tracking.refresh`` (``serve``/``worker`` reconcile, ``launch --wait``, ``status``), the importer when an import ends, reconcile when it fails an import |
| exactly once | the ``notifications`` row (unique job + event) is the claim: an atomic ``INSERT ... ON CONFLICT DO NOTHING``; only the process whose insert landed sends. A claim left ``sending`` for ``STALE_AFTER`` (its sender died) is taken over by one conditional ``UPDATE`` |
| retries | connection errors, 408, 429 and 5xx are retried ``notify_attempts`` times with exponential backoff; other 4xx are final. The outcome (``sent``/``failed``, attempts, error) stays on the row |
| body | JSON with ``event``, ``id`` (``<job>/<event>``, for receivers to drop duplicates), the job's state, reason, counts, costs, import, and a Slack-compatible ``text`` |
| signature | with ``OFFBATCH_NOTIFY_SECRET``: ``X-Offbatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` and ``X-Offbatch-Timestamp`` (Unix seconds; receivers refuse old ones to stop replays) |

Blocking: ``notify`` sends in the calling thread, at most ``notify_attempts`` ×
``notify_timeout_seconds`` plus the backoff; ``notify_later`` hands it to a background thread
(the console's API requests must not wait on a slow receiver). The URL may itself be a secret (Slack's are): it is
never logged or stored, nor is the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from offbatch.db.models import ImportRun, Job, Notification
from offbatch.db.session import Database
from offbatch.db.tables import as_utc
from offbatch.settings import Settings

log = logging.getLogger(__name__)

JOB_EVENTS = {
    "RUNNING": "job.running",
    "SUCCEEDED": "job.succeeded",
    "FAILED": "job.failed",
    "CANCELLED": "job.cancelled",
}
IMPORT_EVENTS = {"succeeded": "import.succeeded", "failed": "import.failed"}
STALE_AFTER = timedelta(minutes=10)
SIGNATURE_HEADER = "X-Offbatch-Signature"
TIMESTAMP_HEADER = "X-Offbatch-Timestamp"
EVENT_HEADER = "X-Offbatch-Event"
RETRY_STATUSES = frozenset({408, 425, 429})

Post = Callable[[str, bytes, dict[str, str], float], int]


@dataclass(frozen=True)
class Outcome:
    event: str
    sent: bool
    attempts: int
    error: str | None = None


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(secret: bytes, *, timestamp: str, body: bytes, signature: str, max_age: float = 300,
           now: float | None = None) -> bool:
    """What a receiver does: the MAC matches (constant time) and the timestamp is recent."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def due_events(job: Job, run: ImportRun | None) -> list[str]:
    """The events the job's current state and import call for (sent or not)."""
    events = [JOB_EVENTS[job.state]] if job.state in JOB_EVENTS else []
    if run is not None and run.state in IMPORT_EVENTS:
        events.append(IMPORT_EVENTS[run.state])
    return events


def _text(event: str, job: Job, run: ImportRun | None) -> str:
    if event.startswith("import."):
        assert run is not None
        if run.state == "succeeded":
            return (f"offbatch: import of {job.id} finished: {run.predictions_created} predictions, "
                    f"{run.insights_created} insights created, {run.insights_updated} updated")
        return f"offbatch: import of {job.id} failed: {run.error or 'no error recorded'}"
    line = f"offbatch: job {job.id} ({job.job_type}, {job.backend}) is {job.state}"
    if job.state == "FAILED":
        line += f": {job.reason or 'no reason given'}"
    elif job.state == "SUCCEEDED":
        line += f", {job.rows_selected} rows in {job.task_count} task(s)"
        if job.cost_actual_usd is not None:
            line += f", ${job.cost_actual_usd:.2f}"
    return line


def payload(settings: Settings, event: str, job: Job, run: ImportRun | None) -> dict:
    def iso(value: datetime | None) -> str | None:
        if value is None:
            return None
        return as_utc(value).isoformat()

    body: dict = {
        "id": f"{job.id}/{event}",
        "event": event,
        "text": _text(event, job, run),
        "job": {
            "id": job.id, "job_type": job.job_type, "backend": job.backend, "state": job.state,
            "reason": job.reason, "rows_selected": job.rows_selected, "task_count": job.task_count,
            "cost_estimate_usd": job.cost_estimate_usd, "cost_actual_usd": job.cost_actual_usd,
            "created_at": iso(job.created_at), "finished_at": iso(job.finished_at),
        },
        "import": None if run is None else {
            "id": run.id, "state": run.state, "rows_done": run.rows_done,
            "predictions_created": run.predictions_created, "insights_created": run.insights_created,
            "insights_updated": run.insights_updated, "error": run.error,
        },
    }
    if settings.api_url:
        body["url"] = f"{settings.api_url.rstrip('/')}/jobs/{job.id}"
    return body


def _http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    import httpx

    return httpx.post(url, content=body, headers=headers, timeout=timeout).status_code


def deliver(settings: Settings, body: dict, *, post: Post = _http_post,
            sleep: Callable[[float], None] = time.sleep) -> tuple[bool, int, str | None]:
    """POST ``body`` with retries; return (sent, attempts, last error). Never raises."""
    # Here, not at the top: httpx (which loads rich and pygments for its own CLI) would cost every
    # command that imports this module ~0.1 s, most of which never send a notification.
    import httpx

    assert settings.notify_url is not None
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    error: str | None = None
    for attempt in range(1, settings.notify_attempts + 1):
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", EVENT_HEADER: body["event"],
                   TIMESTAMP_HEADER: str(timestamp), "User-Agent": "offbatch-notify"}
        if settings.notify_secret is not None:
            headers[SIGNATURE_HEADER] = sign(settings.notify_secret.get_secret_value().encode(), timestamp, data)
        try:
            status = post(settings.notify_url, data, headers, settings.notify_timeout_seconds)
        except httpx.HTTPError as e:
            # The exception text may quote the URL, which can hold a secret: keep its kind only.
            error, retry = f"cannot reach the notification URL ({type(e).__name__})", True
        else:
            if 200 <= status < 300:
                return True, attempt, None
            error = f"the notification URL answered {status}"
            retry = status >= 500 or status in RETRY_STATUSES
        if not retry or attempt == settings.notify_attempts:
            return False, attempt, error
        sleep(settings.notify_backoff_seconds * 2 ** (attempt - 1))
    return False, settings.notify_attempts, error


def _claim(db: Database, job_id: str, event: str, *, who: str) -> int | None:
    """Insert the event's row; its id if this call claimed it, else None (another has, or had)."""
    now = datetime.now(UTC)
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    with db.session() as s:
        stmt = (
            insert(Notification)
            .values(job_id=job_id, event=event, state="sending", attempts=0, claimed_by=who, created_at=now)
            .on_conflict_do_nothing(index_elements=["job_id", "event"])
            .returning(Notification.id)
        )
        claimed = s.execute(stmt).scalar_one_or_none()
        if claimed is not None:
            return claimed
        # Taken: by a live sender, or by one that died while sending (then take it over, once).
        return s.execute(
            update(Notification)
            .where(Notification.job_id == job_id, Notification.event == event,
                   Notification.state == "sending", Notification.created_at < now - STALE_AFTER)
            .values(created_at=now, claimed_by=who)
            .returning(Notification.id)
        ).scalar_one_or_none()


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def notify_later(settings: Settings, db: Database, job_id: str) -> Future | None:
    """``notify`` in a background thread of this process (None without a notification URL)."""
    global _executor
    if not settings.notify_url:
        return None
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="offbatch-notify")
    return _executor.submit(_notify_logged, settings, db, job_id)


def _notify_logged(settings: Settings, db: Database, job_id: str) -> list[Outcome]:
    try:
        return notify(settings, db, job_id)
    except Exception:
        log.exception("notifications of job %s failed", job_id)
        raise


def notify(settings: Settings, db: Database, job_id: str, *, post: Post = _http_post,
           sleep: Callable[[float], None] = time.sleep, who: str = "offbatch") -> list[Outcome]:
    """Send the job's due events that no one has claimed yet; return what this call did.

    Does nothing without ``OFFBATCH_NOTIFY_URL``. Never raises for a receiver's failure: the
    outcome is recorded on the event's row and logged (without the URL).
    """
    if not settings.notify_url:
        return []
    from sqlalchemy import select

    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return []
        run = s.scalars(select(ImportRun).where(ImportRun.job_id == job_id)).first()
        sent = set(s.scalars(select(Notification.event).where(Notification.job_id == job_id,
                                                              Notification.state != "sending")))
    outcomes = []
    for event in due_events(job, run):
        if event in sent:
            continue
        row_id = _claim(db, job_id, event, who=who)
        if row_id is None:
            continue
        ok, attempts, error = deliver(settings, payload(settings, event, job, run), post=post, sleep=sleep)
        with db.session() as s:
            s.execute(update(Notification).where(Notification.id == row_id).values(
                state="sent" if ok else "failed", attempts=attempts, last_error=error,
                sent_at=datetime.now(UTC) if ok else None))
        if ok:
            log.info("notified %s of job %s", event, job_id)
        else:
            log.warning("notification %s of job %s not delivered after %d attempt(s): %s", event, job_id, attempts, error)
        outcomes.append(Outcome(event=event, sent=ok, attempts=attempts, error=error))
    return outcomes
