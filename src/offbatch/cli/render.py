"""Plain-text rendering of jobs and statuses for the terminal."""

from __future__ import annotations

from datetime import datetime

from offbatch.backends.base import JobStatus
from offbatch.db.models import Job


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def job_lines(job: Job, status: JobStatus | None, imported: dict | None) -> list[str]:
    lines = [
        f"job:        {job.id}",
        f"type:       {job.job_type}",
        f"backend:    {job.backend}",
        f"state:      {job.state}" + (f" ({job.reason})" if job.reason else ""),
        f"created:    {when(job.created_at)}",
        f"finished:   {when(job.finished_at)}",
        f"rows:       {job.rows_selected} in {job.task_count} task(s), engine {job.engine}",
        f"storage:    {job.storage_url}",
        f"cost:       estimated {money(job.cost_estimate_usd)}, actual {money(job.cost_actual_usd)}",
    ]
    if imported:
        lines.append(
            "import:     {state}, {predictions_created} predictions, {insights_created} insights created, "
            "{insights_updated} updated".format(**imported)
        )
    else:
        lines.append("import:     not yet")
    if status and status.events:
        lines.append("")
        lines.append("events:")
        lines += [f"  {when(e.time)}  {e.description}" for e in status.events[-5:]]
    if status and status.tasks:
        rows = [
            [str(t.index), t.state.value, str(t.attempts), "-" if t.exit_code is None else str(t.exit_code),
             f"{t.run_seconds:.1f}s", t.reason or ""]
            for t in status.tasks
        ]
        lines.append("")
        lines.append(table(rows, ["task", "state", "attempts", "exit", "run", "reason"]))
    return lines
