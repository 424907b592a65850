"""Job logs from Cloud Logging: what each task's runnables wrote, and what the Batch agent did.

Batch writes a task's stdout/stderr to ``projects/{project}/logs/batch_task_logs`` and its
agent's lines (VM set-up, GPU driver install, image pull: where pull and driver failures show)
to ``batch_agent_logs``, both with the labels ``job_uid`` and ``task_id``
(``task/{job_uid}-group0-{index}/{attempt}/0``), when the job's logs policy is CLOUD_LOGGING
(ours always is). Agent lines are marked ``[agent]``.

Every query starts no earlier than the job's create time (a lower bound keeps queries fast on
projects with much logging). ``read`` pages through entries oldest first; ``follow`` polls until
the job finishes, then drains once more. Entries from parallel tasks arrive late and out of
order, so each poll looks back ``LOOKBACK_S`` before the newest timestamp seen and drops entries
already shown by their ``insertId``. ``google.cloud.logging_v2`` is imported on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from offbatch.errors import ConfigError

if TYPE_CHECKING:
    from offbatch.settings import Settings

LOG_ID = "batch_task_logs"
AGENT_LOG_ID = "batch_agent_logs"
AGENT_MARK = "[agent]"
PAGE_SIZE = 1000
FOLLOW_INTERVAL_S = 5.0
# How far before the newest entry seen each follow poll looks again: Cloud Logging may take
# this long to show an entry of a parallel task stamped earlier than one already read.
LOOKBACK_S = 180.0


def log_filter(*, project: str, job_uid: str, task: int | None = None, after: str | None = None) -> str:
    """A Logging query for one job's task and agent logs (one task's with ``task``), from a timestamp."""
    names = " OR ".join(f'"projects/{project}/logs/{log_id}"' for log_id in (LOG_ID, AGENT_LOG_ID))
    parts = [f"logName=({names})", f'labels.job_uid="{job_uid}"']
    if task is not None:
        parts.append(f'labels.task_id=~"^task/{job_uid}-group0-{int(task)}/"')
    if after:
        parts.append(f'timestamp>="{after}"')
    return " AND ".join(parts)


def is_agent(entry: Any) -> bool:
    return entry.log_name.endswith(f"/logs/{AGENT_LOG_ID}")


def task_of(entry: Any) -> int | None:
    """The task index of an entry, from its ``task_id`` label."""
    task_id = entry.labels.get("task_id", "")
    try:
        return int(task_id.split("/")[1].rsplit("-", 1)[-1])
    except (IndexError, ValueError):
        return None


class LogReader:
    """Reads one project's Batch task logs through the Logging API (gRPC)."""

    def __init__(self, service: Any, *, project: str) -> None:
        self._service = service
        self.project = project

    @classmethod
    def from_settings(cls, settings: Settings, *, project: str) -> LogReader:
        try:
            from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
            from google.cloud.logging_v2.services.logging_service_v2.transports import (
                LoggingServiceV2GrpcTransport,
            )
        except ModuleNotFoundError as e:
            raise ConfigError(
                f"reading Google Batch logs needs the missing package {e.name!r}",
                hint="install it with: pip install 'offbatch[gcp]'",
            ) from e
        if settings.google_batch_emulator_host:
            import grpc

            channel = grpc.insecure_channel(settings.google_batch_emulator_host)
            return cls(LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel)),
                       project=project)
        from offbatch.backends.google_batch.credentials import load_credentials

        return cls(LoggingServiceV2Client(credentials=load_credentials(settings)), project=project)

    def entries(self, query: str) -> Iterator[Any]:
        from google.api_core import exceptions as gexc

        from offbatch.backends.google_batch.client import translate

        try:
            pager = self._service.list_log_entries(
                request={
                    "resource_names": [f"projects/{self.project}"],
                    "filter": query,
                    "order_by": "timestamp asc",
                    "page_size": PAGE_SIZE,
                }
            )
            yield from pager
        except gexc.GoogleAPIError as e:
            raise translate("read Cloud Logging entries", e) from e

    def read(
        self,
        *,
        job_uid: str,
        task: int | None = None,
        follow: bool = False,
        finished: Callable[[], bool] = lambda: True,
        interval_s: float = FOLLOW_INTERVAL_S,
        since: datetime | None = None,
        lookback_s: float = LOOKBACK_S,
    ) -> Iterator[str]:
        """Lines of the job's logs, oldest first, each once.

        ``[task i]`` prefixes lines when all tasks are read, ``[agent]`` marks the agent's.
        ``since`` (the job's create time) bounds every query from below.
        """
        seen: set[str] = set()
        newest: datetime | None = None
        while True:
            # Read "finished" before the page so the last page after the end is always read.
            done = not follow or finished()
            start = since
            if newest is not None:
                back = newest - timedelta(seconds=lookback_s)
                start = max(back, since) if since else back
            after = start.isoformat() if start else None
            for entry in self.entries(log_filter(project=self.project, job_uid=job_uid, task=task, after=after)):
                key = entry.insert_id or f"{entry.log_name}/{entry.timestamp}/{entry.text_payload}"
                if key in seen:
                    continue
                seen.add(key)
                if entry.timestamp and (newest is None or entry.timestamp > newest):
                    newest = entry.timestamp
                text = (entry.text_payload or str(entry.json_payload or "")).rstrip("\n")
                if is_agent(entry):
                    text = f"{AGENT_MARK} {text}"
                index = task_of(entry)
                yield text if task is not None or index is None else f"[task {index}] {text}"
            if done:
                return
            time.sleep(interval_s)
