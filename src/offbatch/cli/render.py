"""What commands print: JSON for scripts, Rich tables for people, and the times in both.

Every time is shown as ISO 8601 in UTC with its zone (``2026-12-02T04:15:00Z``), in JSON and in
tables alike (SQLite hands back naive datetimes, which are UTC). Tables fit the terminal and colour
job and task states when stdout is a terminal; ``NO_COLOR`` turns colour off (Rich honours it).
Written to a pipe or a file they neither wrap nor colour, so ``grep`` and ``awk`` see one row a
line. Rich is imported only when a table is printed, so ``offbatch --help`` does not pay for it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from offbatch.backends.base import JobStatus, TaskStatus
    from offbatch.db.models import Job

# Rich styles of job and task states (Google Batch's names, which both use).
STATE_STYLES = {
    "QUEUED": "yellow", "SCHEDULED": "yellow", "PENDING": "yellow", "ASSIGNED": "yellow",
    "RUNNING": "cyan", "SUCCEEDED": "green", "FAILED": "bold red",
    "CANCELLATION_IN_PROGRESS": "magenta", "CANCELLED": "magenta",
    # import runs
    "queued": "yellow", "running": "cyan", "succeeded": "green", "failed": "bold red",
}
# Wide enough that no table wraps when it goes to a pipe or a file.
UNWRAPPED_WIDTH = 10_000


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """``2026-12-02T04:15:00Z``; None stays None."""
    value = utc(value)
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def when(value: datetime | None) -> str:
    return iso(value) or "-"


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def seconds(value: float) -> str:
    value = round(value)
    if value < 60:
        return f"{value}s"
    minutes, secs = divmod(value, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def echo_json(value: Any) -> None:
    """``value`` as indented JSON on stdout, times as ISO 8601 UTC."""
    click.echo(json.dumps(value, indent=2, default=_default, ensure_ascii=False))


def note(message: str) -> None:
    """A message for the person, on stderr, so stdout stays data (JSON, tables)."""
    click.echo(message, err=True)


def console() -> Console:
    from rich.console import Console

    class PipeAwareConsole(Console):
        def on_broken_pipe(self) -> None:
            # Rich exits 1 here; the CLI turns a broken pipe into its own quiet exit instead.
            raise BrokenPipeError

    terminal = sys.stdout.isatty()
    width = None if terminal else UNWRAPPED_WIDTH
    if not terminal and os.environ.get("COLUMNS", "").isdigit():
        width = int(os.environ["COLUMNS"])
    # highlight=False: no guessing colours for numbers and words in our text.
    return PipeAwareConsole(width=width, highlight=False, soft_wrap=not terminal, emoji=False)


def styled_state(state: str) -> Any:
    from rich.text import Text

    return Text(state, style=STATE_STYLES.get(state, ""))


def print_table(rows: list[list[Any]], headers: list[str], *, state_columns: tuple[str, ...] = ("state",)) -> None:
    """Rows under headers, fitted to the terminal; cells of ``state_columns`` coloured.

    On a narrow terminal long cells fold onto more lines: nothing is cut off.
    """
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    state_indexes = {i for i, h in enumerate(headers) if h in state_columns}
    for i, header in enumerate(headers):
        # States are short words: kept whole, other columns give way.
        table.add_column(header, overflow="fold", no_wrap=i in state_indexes)
    for row in rows:
        table.add_row(*[styled_state(str(c)) if i in state_indexes else ("" if c is None else str(c))
                        for i, c in enumerate(row)])
    out = console()
    if out.is_terminal:
        out.print(table)
        return
    # Into a pipe or a file: the same rows without the padding Rich puts at the end of each line.
    with out.capture() as captured:
        out.print(table)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_lines(lines: list[str]) -> None:
    """Key/value lines; ``[state]`` markup words are coloured like states."""
    out = console()
    for line in lines:
        out.print(line, markup=True)


def job_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id, "job_type": job.job_type, "backend": job.backend, "state": job.state,
        "reason": job.reason, "rows_selected": job.rows_selected, "task_count": job.task_count,
        "engine": job.engine, "storage_url": job.storage_url, "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at), "cost_estimate_usd": job.cost_estimate_usd,
        "cost_actual_usd": job.cost_actual_usd,
    }


def task_json(task: TaskStatus) -> dict[str, Any]:
    return {
        "index": task.index, "state": task.state.value, "attempts": task.attempts,
        "attempts_before_resume": task.attempts_before_resume, "exit_code": task.exit_code,
        "run_seconds": round(task.run_seconds, 3), "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at), "reason": task.reason,
    }


def _markup(state: str) -> str:
    from rich.markup import escape

    style = STATE_STYLES.get(state)
    return f"[{style}]{escape(state)}[/]" if style else escape(state)


def print_job(job: Job, status: JobStatus | None, imported: dict | None) -> None:
    from rich.markup import escape

    reason = f" ({escape(job.reason)})" if job.reason else ""
    lines = [
        f"job:        {escape(job.id)}",
        f"type:       {escape(job.job_type)}",
        f"backend:    {escape(job.backend)}",
        f"state:      {_markup(job.state)}{reason}",
        f"created:    {when(job.created_at)}",
        f"finished:   {when(job.finished_at)}",
        f"rows:       {job.rows_selected} in {job.task_count} task(s), engine {escape(job.engine)}",
        f"storage:    {escape(job.storage_url)}",
        f"cost:       estimated {money(job.cost_estimate_usd)}, actual {money(job.cost_actual_usd)}",
    ]
    if imported:
        lines.append(
            f"import:     {_markup(imported['state'])}, {imported['predictions_created']} predictions, "
            f"{imported['insights_created']} insights created, {imported['insights_updated']} updated"
        )
    else:
        lines.append("import:     not yet")
    if status and status.events:
        lines += ["", "events:"]
        lines += [f"  {when(e.time)}  {escape(e.description)}" for e in status.events[-8:]]
    print_lines(lines)
    if status and status.tasks:
        click.echo()
        rows = [
            [t.index, t.state.value, _attempts(t), "-" if t.exit_code is None else t.exit_code,
             seconds(t.run_seconds), t.reason or ""]
            for t in status.tasks
        ]
        print_table(rows, ["task", "state", "attempts", "exit", "run", "reason"])


def _attempts(task: TaskStatus) -> str:
    if task.attempts_before_resume:
        return f"{task.attempts} ({task.attempts_before_resume} before resume)"
    return str(task.attempts)
