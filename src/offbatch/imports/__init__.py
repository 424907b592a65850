"""The import service: job output → predictions → insights, through a durable queue."""

from __future__ import annotations

from offbatch.imports.importer import enqueue_import, process_queue, run_import
from offbatch.imports.queue import ImportState
from offbatch.imports.reconcile import reconcile

__all__ = ["ImportState", "enqueue_import", "process_queue", "reconcile", "run_import"]
