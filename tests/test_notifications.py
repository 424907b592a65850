"""Notifications: signed JSON POSTs to a real local HTTP receiver, once per change whatever the
number of trackers, retried with backoff, outcomes recorded; the Pub/Sub topic setting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from offbatch import notifications, tracking
from offbatch.backends.base import Backend, JobState, JobStatus, TaskState, TaskStatus
from offbatch.db.models import Job, Notification
from offbatch.imports import run_import
from tests.conftest import output_row, wait_for

SECRET = "notify-secret-0123456789abcdef"


class Receiver:
    """A real HTTP server that checks each request's signature and answers from a script."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = notifications.verify(
                    SECRET.encode(), timestamp=self.headers.get(notifications.TIMESTAMP_HEADER, ""),
                    body=body, signature=self.headers.get(notifications.SIGNATURE_HEADER, ""),
                )
                with receiver.lock:
                    receiver.requests.append({"body": json.loads(body), "verified": ok, "headers": dict(self.headers)})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status if ok else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=url-secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[str]:
        return [r["body"]["event"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def notify_settings(settings, receiver):
    return settings.model_copy(update={
        "notify_url": receiver.url, "notify_secret": SecretStr(SECRET), "notify_backoff_seconds": 0.01,
        "notify_attempts": 4, "notify_timeout_seconds": 10.0,
    })


def set_state(db, job_id: str, state: str, reason: str | None = None) -> None:
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(state=state, reason=reason))


def rows(db) -> list[Notification]:
    with db.session() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def test_a_state_change_is_posted_signed_with_a_slack_text(notify_settings, db, make_job, receiver):
    job = make_job([[output_row("1")]], state="RUNNING")
    outcomes = notifications.notify(notify_settings, db, job.id)
    assert [(o.event, o.sent, o.attempts) for o in outcomes] == [("job.running", True, 1)]
    [request] = receiver.requests
    assert request["verified"]
    body = request["body"]
    assert body["event"] == "job.running" and body["id"] == f"{job.id}/job.running"
    assert body["job"]["id"] == job.id and body["job"]["state"] == "RUNNING"
    assert body["text"].startswith(f"offbatch: job {job.id} ") and "RUNNING" in body["text"]
    assert request["headers"][notifications.EVENT_HEADER] == "job.running"
    [row] = rows(db)
    assert (row.event, row.state, row.attempts, row.last_error) == ("job.running", "sent", 1, None)
    # Neither the secret nor the URL (which may hold one) ends up in the body or the row.
    stored = json.dumps(body) + repr(row.__dict__)
    assert SECRET not in stored and "url-secret" not in stored


def test_each_change_is_sent_once(notify_settings, db, make_job, receiver):
    job = make_job([[output_row("1")]], state="RUNNING")
    notifications.notify(notify_settings, db, job.id)
    assert notifications.notify(notify_settings, db, job.id) == []
    set_state(db, job.id, "FAILED", "task 0 exited with 1")
    notifications.notify(notify_settings, db, job.id)
    notifications.notify(notify_settings, db, job.id)
    assert receiver.events() == ["job.running", "job.failed"]
    failed = receiver.requests[1]["body"]
    assert failed["job"]["reason"] == "task 0 exited with 1" and "task 0 exited with 1" in failed["text"]


def test_concurrent_trackers_send_each_change_once(notify_settings, db, make_job, receiver):
    job = make_job([[output_row("1")]], state="CANCELLED")
    barrier = threading.Barrier(6)
    results: list[list] = []

    def track() -> None:
        barrier.wait()
        results.append(notifications.notify(notify_settings, db, job.id, who=threading.current_thread().name))

    threads = [threading.Thread(target=track) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 6
    assert receiver.events() == ["job.cancelled"]
    assert sum(len(r) for r in results) == 1
    assert [r.state for r in rows(db)] == ["sent"]


def test_a_failing_receiver_is_retried_with_backoff(notify_settings, db, make_job, receiver):
    receiver.statuses = [503, 500]
    job = make_job([[output_row("1")]], state="SUCCEEDED")
    waits: list[float] = []
    [outcome] = notifications.notify(notify_settings, db, job.id, sleep=waits.append)
    assert (outcome.sent, outcome.attempts) == (True, 3)
    assert waits == [0.01, 0.02]  # doubled after each failed attempt
    assert receiver.events() == ["job.succeeded"] * 3
    assert len({r["body"]["id"] for r in receiver.requests}) == 1  # one id: receivers can drop repeats
    [row] = rows(db)
    assert (row.state, row.attempts) == ("sent", 3)


def test_a_client_error_is_not_retried_and_is_recorded(notify_settings, db, make_job, receiver):
    receiver.statuses = [400]
    job = make_job([[output_row("1")]], state="SUCCEEDED")
    [outcome] = notifications.notify(notify_settings, db, job.id, sleep=lambda _s: None)
    assert (outcome.sent, outcome.attempts, outcome.error) == (False, 1, "the notification URL answered 400")
    [row] = rows(db)
    assert (row.state, row.last_error) == ("failed", "the notification URL answered 400")
    # Recorded as done: a later tracker does not resend it.
    assert notifications.notify(notify_settings, db, job.id) == [] and len(receiver.requests) == 1


def test_an_unreachable_receiver_fails_after_every_attempt(notify_settings, db, make_job, receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
    settings = notify_settings.model_copy(update={"notify_attempts": 3})
    job = make_job([[output_row("1")]], state="SUCCEEDED")
    waits: list[float] = []
    [outcome] = notifications.notify(settings, db, job.id, sleep=waits.append)
    assert (outcome.sent, outcome.attempts) == (False, 3) and len(waits) == 2
    assert "cannot reach" in outcome.error and "url-secret" not in outcome.error


def test_a_wrong_secret_fails_verification(notify_settings, db, make_job, receiver):
    settings = notify_settings.model_copy(update={"notify_secret": SecretStr("another-secret-0123456789")})
    job = make_job([[output_row("1")]], state="SUCCEEDED")
    [outcome] = notifications.notify(settings, db, job.id, sleep=lambda _s: None)
    assert not outcome.sent and receiver.requests[0]["verified"] is False


def test_verify_refuses_old_timestamps():
    body = b'{"event":"job.succeeded"}'
    now = 1_800_000_000
    sig = notifications.sign(b"k" * 16, now, body)
    assert notifications.verify(b"k" * 16, timestamp=str(now), body=body, signature=sig, now=now + 10)
    assert not notifications.verify(b"k" * 16, timestamp=str(now), body=body, signature=sig, now=now + 3600)
    assert not notifications.verify(b"k" * 16, timestamp=str(now), body=body + b" ", signature=sig, now=now)


def test_a_claim_left_by_a_dead_sender_is_taken_over(notify_settings, db, make_job, receiver):
    job = make_job([[output_row("1")]], state="SUCCEEDED")
    with db.session() as s:
        s.add(Notification(job_id=job.id, event="job.succeeded", state="sending", attempts=0, claimed_by="dead",
                           created_at=datetime.now(UTC) - notifications.STALE_AFTER - timedelta(minutes=1)))
    [outcome] = notifications.notify(notify_settings, db, job.id)
    assert outcome.sent and receiver.events() == ["job.succeeded"]
    # A fresh claim (a live sender) is left alone.
    set_state(db, job.id, "FAILED")
    with db.session() as s:
        s.add(Notification(job_id=job.id, event="job.failed", state="sending", attempts=0, claimed_by="alive"))
    assert notifications.notify(notify_settings, db, job.id) == []


def test_no_url_no_notifications(settings, db, make_job, receiver):
    job = make_job([[output_row("1")]], state="SUCCEEDED")
    assert notifications.notify(settings, db, job.id) == [] and rows(db) == []


class ScriptedBackend(Backend):
    """A backend whose status is whatever the test sets (the tracker under test is real)."""

    name = "scripted"

    def __init__(self, settings, state: JobState) -> None:
        super().__init__(settings)
        self.state = state

    def status(self, ref: str) -> JobStatus:
        task = TaskStatus(index=0, state=TaskState.RUNNING if self.state == JobState.RUNNING else TaskState.SUCCEEDED)
        return JobStatus(job_id=ref, state=self.state, tasks=[task],
                         reason="1 task failed" if self.state == JobState.FAILED else None)

    def describe(self, spec):  # pragma: no cover - not used
        raise NotImplementedError

    def submit(self, spec):  # pragma: no cover - not used
        raise NotImplementedError

    def logs(self, ref, *, task=None, follow=False):  # pragma: no cover - not used
        return iter(())

    def cancel(self, ref):  # pragma: no cover - not used
        pass

    def list(self):  # pragma: no cover - not used
        return []


def test_tracking_notifies_state_changes_it_observes(notify_settings, db, make_job, receiver):
    job = make_job([[output_row("1")]], state="QUEUED")
    backend = ScriptedBackend(notify_settings, JobState.RUNNING)
    tracking.refresh(notify_settings, db, job.id, backend=backend)
    tracking.refresh(notify_settings, db, job.id, backend=backend)
    backend.state = JobState.FAILED
    tracking.refresh(notify_settings, db, job.id, backend=backend)
    assert receiver.events() == ["job.running", "job.failed"]
    assert receiver.requests[1]["body"]["job"]["reason"] == "1 task failed"
    assert tracking.get_job(db, job.id).task_counts == {"SUCCEEDED": 1}


def test_an_import_notifies_its_end(notify_settings, db, make_job, receiver):
    job = make_job([[output_row("1", correction="sucre, farine de blé")]], state="SUCCEEDED")
    run_import(notify_settings, db, job.id)
    run_import(notify_settings, db, job.id)
    assert receiver.events() == ["job.succeeded", "import.succeeded"]
    body = receiver.requests[1]["body"]
    assert body["import"]["state"] == "succeeded" and body["import"]["insights_created"] == 1
    assert "1 insights created" in body["text"]


def test_the_pubsub_topic_setting_is_checked(settings):
    from offbatch.errors import ConfigError
    from offbatch.settings import load_settings

    with pytest.raises(ConfigError, match="NOTIFY_PUBSUB_TOPIC"):
        load_settings(home=settings.home, notify_pubsub_topic="offbatch-jobs")


def test_a_refresh_can_notify_in_the_background(notify_settings, db, make_job, receiver):
    receiver.statuses = [503]  # a failing receiver must not hold a console request
    job = make_job([[output_row("1")]], state="QUEUED")
    tracking.refresh(notify_settings, db, job.id, backend=ScriptedBackend(notify_settings, JobState.RUNNING),
                     notify_later=True)
    wait_for(lambda: [r.state for r in rows(db)] == ["sent"], timeout=60, what="the background notification")
    assert receiver.events() == ["job.running", "job.running"]  # 503, then sent on the retry
