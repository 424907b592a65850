"""A fake of Cloud Logging's read API (``ListLogEntries``) holding the fake Batch tasks' output.

Entries look like Batch's: log ``projects/{p}/logs/batch_task_logs`` (what tasks print) or
``batch_agent_logs`` (the Batch agent: VM set-up, driver install, image pull), labels ``job_uid``
and ``task_id`` (``task/{job_uid}-group0-{index}/{attempt}/0``). Results come in timestamp order,
so an entry written late with an earlier timestamp lands before later ones, as in Cloud Logging.
The filter understands what offbatch sends: ``logName="..."``, ``logName=("..." OR "...")``,
``labels.KEY="..."``, ``labels.KEY=~"regex"``, ``timestamp>="..."``, joined by AND; anything else
is INVALID_ARGUMENT, so a filter change breaks a test.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

import grpc
from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse, LogEntry

SERVICE = "google.logging.v2.LoggingServiceV2"
_TERM = re.compile(r'^(logName|labels\.[a-z_]+|timestamp)\s*(=~|>=|>|=)\s*"([^"]*)"$')
_ANY_OF = re.compile(r'^(logName)\s*=\s*\(\s*("[^"]*"(?:\s+OR\s+"[^"]*")*)\s*\)$')


class FakeLogStore:
    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()
        self.queries: list[str] = []

    def write(self, job: Any, *, task: int, attempt: int, text: str, agent: bool = False,
              timestamp: datetime | None = None) -> None:
        """Add one entry; ``timestamp`` (default now) lets a test write a late, earlier-stamped line."""
        project = job.name.split("/")[1]
        log_id = "batch_agent_logs" if agent else "batch_task_logs"
        with self._lock:
            self._entries.append(
                LogEntry(
                    log_name=f"projects/{project}/logs/{log_id}",
                    text_payload=text,
                    timestamp=timestamp or datetime.now(UTC),
                    insert_id=f"{len(self._entries):08d}",
                    labels={"job_uid": job.uid, "task_id": f"task/{job.uid}-group0-{task}/{attempt}/0"},
                )
            )

    def query(self, text: str) -> list[LogEntry]:
        self.queries.append(text)
        terms = []
        for part in text.split(" AND "):
            any_of = _ANY_OF.match(part.strip())
            if any_of:
                values = tuple(re.findall(r'"([^"]*)"', any_of.group(2)))
                terms.append((any_of.group(1), "in", values))
                continue
            match = _TERM.match(part.strip())
            if not match:
                raise ValueError(f"unsupported filter term {part!r}")
            terms.append(match.groups())
        with self._lock:
            entries = list(self._entries)
        found = [e for e in entries if all(_matches(e, *term) for term in terms)]
        return sorted(found, key=lambda e: e.timestamp)


def _matches(entry: LogEntry, field: str, op: str, value: Any) -> bool:
    if op == "in":
        return entry.log_name in value
    if field == "timestamp":
        moment = datetime.fromisoformat(value)
        return entry.timestamp >= moment if op == ">=" else entry.timestamp > moment
    actual = entry.log_name if field == "logName" else entry.labels.get(field.removeprefix("labels."), "")
    return bool(re.search(value, actual)) if op == "=~" else actual == value


def logging_handler(store: FakeLogStore) -> grpc.GenericRpcHandler:
    def list_entries(request: ListLogEntriesRequest, context: grpc.ServicerContext) -> ListLogEntriesResponse:
        try:
            entries = store.query(request.filter)
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        start = int(request.page_token or 0)
        size = request.page_size or 50
        token = str(start + size) if start + size < len(entries) else ""
        return ListLogEntriesResponse(entries=entries[start:start + size], next_page_token=token)

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "ListLogEntries": grpc.unary_unary_rpc_method_handler(
                list_entries,
                request_deserializer=ListLogEntriesRequest.deserialize,
                response_serializer=ListLogEntriesResponse.serialize,
            )
        },
    )
