"""The import worker loop (``offbatch worker`` and the thread inside ``offbatch serve``)."""

from __future__ import annotations

import logging
import threading
import time

from offbatch.db.session import Database
from offbatch.imports.importer import default_worker_id, process_queue
from offbatch.imports.reconcile import reconcile
from offbatch.settings import Settings

log = logging.getLogger(__name__)


def import_loop(
    settings: Settings,
    db: Database,
    *,
    stop: threading.Event,
    wake: threading.Event | None = None,
    worker_id: str | None = None,
    reconcile_every: float = 60.0,
    poll_seconds: float = 2.0,
) -> None:
    """Until ``stop``: reconcile every ``reconcile_every`` seconds, and run queued imports as
    they come (``wake`` cuts the idle wait short). An error in one round is logged; the next
    round retries."""
    worker_id = worker_id or default_worker_id()
    wake = wake or threading.Event()
    next_reconcile = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_reconcile:
                report = reconcile(settings, db)
                if report.queued or report.failed:
                    log.info("reconcile: queued %s, failed %s", report.queued, report.failed)
                next_reconcile = time.monotonic() + reconcile_every
            process_queue(settings, db, worker_id=worker_id, once=True, stop=stop)
        except Exception:
            log.exception("import loop round failed")
        wake.wait(min(poll_seconds, max(0.0, next_reconcile - time.monotonic())))
        wake.clear()
