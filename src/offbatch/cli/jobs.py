"""Job commands: launch, status, list, logs, cancel, resume, and the task entry point."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import click

from offbatch.cli import context
from offbatch.cli.completion import complete_job_ids, complete_job_types
from offbatch.cli.render import echo_json, note
from offbatch.errors import EXIT_INTERRUPTED, EXIT_JOB_UNSUCCESSFUL, ConfigError

# Following a job: the first look soon (small jobs end in a second or two), then less often.
POLL_FIRST_SECONDS = 0.05
POLL_MAX_SECONDS = 1.0


def _parse_params(values: tuple[str, ...]) -> dict[str, object]:
    params: dict[str, object] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


@click.command()
@click.argument("job_type", shell_complete=complete_job_types)
@click.option("--backend", help="Execution backend (default: OFFBATCH_BACKEND or 'local').")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Job config YAML to use instead of the job type's.")
@click.option("--dataset", help="OFF Parquet dump (path, glob or gs:// URL); default: the bundled sample.")
@click.option("--limit", type=click.IntRange(1), help="Most products to select (default 10,000).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Extraction parameter, e.g. max_fraction=0.3.")
@click.option("--dry-run", is_flag=True,
              help="Run every check and print the plan (job id, rows, resources, request, problems); write and "
                   "submit nothing; exit non-zero if a problem would stop the launch.")
@click.option("--include-predicted", is_flag=True,
              help="Also process products that already have a prediction from this engine version.")
@click.option("--wait", is_flag=True, help="Follow the job to its end and import its results.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask to confirm a job that costs money.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def launch(job_type, backend, config_path, dataset, limit, params, dry_run, include_predicted, wait, yes, as_json) -> None:
    """Extract JOB_TYPE's products, validate its config and submit a job."""
    from offbatch.backends import get_backend

    settings = context.settings()
    backend_obj = get_backend(backend or settings.backend, settings)
    # A launch that may submit lets the backend start ahead (the local supervisor's imports then
    # overlap the launcher's own and the extraction), before the heavy imports below.
    with contextlib.nullcontext() if dry_run else backend_obj.prepared():
        plan = _launch(settings, backend_obj, job_type=job_type, config_path=config_path, dataset=dataset,
                       limit=limit, params=params, dry_run=dry_run, include_predicted=include_predicted, yes=yes)
    if dry_run or as_json:
        echo_json(plan.as_dict())
    if dry_run:
        refusal = plan.refusal()  # every problem the launch would refuse on, and its exit code
        if refusal is not None:
            raise refusal
        return
    if plan.nothing_new:
        # Not an error: everything this selection would process was already predicted.
        note(f"nothing new to process: the {plan.already_predicted} products this selection picks already have "
             f"predictions from this engine version")
        note("hint: pass --include-predicted to process them again")
        return
    if not plan.submitted:
        note("not submitted")
        return
    say = note if as_json else click.echo
    say(f"submitted {plan.job_id} to {plan.backend}: {plan.rows} products in {plan.config.task_count} task(s)")
    say(f"follow it with: offbatch status {plan.job_id}")
    if wait:
        _wait_and_import(plan.job_id, rows=plan.rows, say=say)


def _launch(settings, backend, *, job_type, config_path, dataset, limit, params, dry_run, include_predicted, yes):
    from offbatch.launcher import launch as do_launch

    db = context.database()

    def confirm(plan) -> bool:
        cost = plan.estimate
        click.echo(f"{plan.rows} products selected; estimated cost ${cost.expected_usd:.2f} "
                   f"(worst case ${cost.worst_case_usd:.2f}, budget ${plan.config.budget_usd:.2f})", err=True)
        if yes or cost.worst_case_usd == 0:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("this job costs money and stdin is not a terminal", hint="pass --yes to confirm")
        return click.confirm("Submit the job?", default=False, err=True)

    return do_launch(
        settings, db, job_type_name=job_type, backend=backend, config_path=config_path, dataset=dataset,
        limit=limit, params=_parse_params(params), dry_run=dry_run, include_predicted=include_predicted,
        confirm=confirm,
    )


def _wait_and_import(job_id: str, *, rows: int, say=click.echo) -> None:
    """Follow the job to its end, then import it; Ctrl-C stops following, never the job.

    ``say`` prints the outcome (stderr when stdout carries JSON).
    """
    # Imported before following, while the job runs: not after its end, on the way to the result.
    from offbatch.imports import ImportState, run_import
    from offbatch.imports.importer import default_worker_id
    from offbatch.imports.queue import release, run_for_job

    try:
        status = _follow(job_id, rows=rows, say=say)
    except KeyboardInterrupt:
        note(f"\ninterrupted: {job_id} keeps running (stop it with: offbatch cancel {job_id})")
        note(f"follow it with: offbatch status {job_id}; once it has SUCCEEDED, import it with: "
             f"offbatch import {job_id}")
        raise SystemExit(EXIT_INTERRUPTED) from None
    if status.state.value != "SUCCEEDED":
        if status.state.value == "FAILED":
            note(f"see why with: offbatch logs {job_id}; rerun its unfinished shards with: offbatch resume {job_id}")
        raise SystemExit(EXIT_JOB_UNSUCCESSFUL)
    db = context.database()
    try:
        run = run_import(context.settings(), db, job_id, worker_id=default_worker_id())
    except KeyboardInterrupt:
        # Each chunk commits on its own, so the next import goes on from the last committed one.
        # Hand the claim back now, or that import would wait for it to go stale (minutes).
        interrupted = run_for_job(db, job_id)
        if interrupted is not None:
            release(db, interrupted.id, worker_id=default_worker_id(), state=ImportState.QUEUED)
        note(f"\ninterrupted while importing {job_id}; finish the import with: offbatch import {job_id}")
        raise SystemExit(EXIT_INTERRUPTED) from None
    say(
        f"imported: {run.predictions_created} predictions, {run.insights_created} insights created, "
        f"{run.insights_updated} updated"
    )
    say("review them with: offbatch insights")


def _follow(job_id: str, *, rows: int, say=click.echo):
    from offbatch import tracking
    from offbatch.progress import rows_done

    settings, db = context.settings(), context.database()
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    started = time.monotonic()
    # A progress bar on a terminal; in a log (CI, cron), one line each time something changes.
    bar = click.progressbar(length=rows, label=job_id, show_pos=True, file=sys.stderr) if sys.stderr.isatty() else None
    shown, last_line = 0, ""
    poll = POLL_FIRST_SECONDS
    try:
        while True:
            job, status = tracking.refresh(settings, db, job_id, backend=backend)
            done = rows_done(job)
            if bar is not None:
                bar.update(done - shown)
            else:
                line = f"{status.state.value}: {done}/{rows} rows; tasks: {task_summary(status)}"
                if line != last_line:
                    note(line)
                    last_line = line
            shown = done
            if status.state.is_finished():
                break
            backend.wait(job.backend_ref or job.id, timeout=poll)
            poll = min(poll * 1.5, POLL_MAX_SECONDS)
    finally:
        if bar is not None:
            bar.render_finish()
    elapsed = time.monotonic() - started
    say(f"{job_id}: {status.state.value} after {elapsed:.1f}s" + (f" ({status.reason})" if status.reason else ""))
    return status


def task_summary(status) -> str:
    """'1 running, 1 succeeded': task counts by state, in the order tasks move through them."""
    counts = status.task_counts()
    order = ["PENDING", "ASSIGNED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    names = sorted(counts, key=lambda s: order.index(s) if s in order else len(order))
    return ", ".join(f"{counts[name]} {name.lower()}" for name in names) or "none yet"


def _import_summary(db, job_id: str) -> dict | None:
    from sqlalchemy import select

    from offbatch.cli.render import iso
    from offbatch.db.models import ImportRun

    with db.session() as s:
        run = s.scalars(select(ImportRun).where(ImportRun.job_id == job_id)).first()
        if run is None:
            return None
        return {
            "id": run.id, "state": run.state, "predictions_created": run.predictions_created,
            "insights_created": run.insights_created, "insights_updated": run.insights_updated,
            "rows_done": run.rows_done, "error": run.error, "finished_at": iso(run.finished_at),
        }


_job_id = click.argument("job_id", shell_complete=complete_job_ids)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")


@click.command()
@_job_id
@_json
def status(job_id, as_json) -> None:
    """Show JOB_ID's state, tasks, events, cost and import."""
    from offbatch import tracking
    from offbatch.cli.render import iso, job_json, print_job, task_json

    settings, db = context.settings(), context.database()
    job, st = tracking.refresh(settings, db, job_id)
    imported = _import_summary(db, job_id)
    if as_json:
        echo_json({
            **job_json(job), "started_at": iso(st.started_at), "run_seconds": round(st.run_seconds, 3),
            "tasks": [task_json(t) for t in st.tasks],
            "events": [{"time": iso(e.time), "description": e.description,
                        "state": e.state.value if e.state else None} for e in st.events],
            "import": imported,
        })
        return
    print_job(job, st, imported)


@click.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Most jobs to list.")
@click.option("--job-type", shell_complete=complete_job_types, help="Only jobs of this type.")
@_json
def list_jobs(limit, job_type, as_json) -> None:
    """List recent jobs (state refreshed for unfinished ones)."""
    from offbatch import tracking
    from offbatch.cli.render import job_json, money, print_table, when

    if job_type is not None:
        from offbatch.jobs import get_job_type

        get_job_type(job_type)  # an unknown type is an error, not an empty list
    settings, db = context.settings(), context.database()
    backends: dict = {}
    jobs = []
    for job in tracking.list_jobs(db, limit=limit, job_type=job_type):
        if tracking.needs_refresh(job):
            job, _ = tracking.refresh(settings, db, job.id, backend=tracking.backend_for(settings, job, backends))
        jobs.append(job)
    if as_json:
        echo_json([job_json(j) for j in jobs])
        return
    if not jobs:
        note("no jobs yet: try offbatch launch ingredients-spellcheck --wait")
        return
    rows = [[j.id, j.backend, j.state, j.rows_selected, j.task_count, when(j.created_at), money(j.cost_actual_usd)]
            for j in jobs]
    print_table(rows, ["job", "backend", "state", "rows", "tasks", "created", "cost"])


@click.command()
@_job_id
@click.option("--task", type=click.IntRange(0), help="Only this task's log.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON on stdout: one document; with --follow, one object a line (JSON Lines).")
def logs(job_id, task, follow, as_json) -> None:
    """Print JOB_ID's task logs."""
    import re

    from offbatch import tracking

    settings, db = context.settings(), context.database()
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    lines = backend.logs(job.backend_ref or job.id, task=task, follow=follow)
    if not as_json:
        for line in lines:
            click.echo(line)
        return
    prefixed = re.compile(r"^\[task (\d+)\] ?(.*)$", re.DOTALL)

    def record(line: str) -> dict:
        match = prefixed.match(line) if task is None else None
        return ({"task": int(match.group(1)), "line": match.group(2)} if match else {"task": task, "line": line})

    if follow:
        for line in lines:
            click.echo(json.dumps(record(line), ensure_ascii=False))
        return
    echo_json({"job_id": job_id, "lines": [record(line) for line in lines]})


@click.command()
@_job_id
def cancel(job_id) -> None:
    """Cancel JOB_ID; cancelling a finished job does nothing."""
    from offbatch import tracking

    settings, db = context.settings(), context.database()
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    job, st = tracking.refresh(settings, db, job_id, backend=backend)
    if st.state.is_finished():
        click.echo(f"{job_id} already ended {st.state.value}: nothing to cancel")
        return
    backend.cancel(job.backend_ref or job.id)
    job, after = tracking.refresh(settings, db, job_id, backend=backend)
    if after.state.is_finished():
        # A backend may stop the tasks itself before answering (a local job whose supervisor died).
        click.echo(f"{job_id}: cancel requested; the job is {after.state.value}")
        return
    # Cancelling takes a moment (tasks get SIGTERM, then SIGKILL): say what was done, not "CANCELLED".
    click.echo(f"{job_id}: cancel requested (it was {st.state.value}); "
               f"watch it stop with: offbatch status {job_id}")


@click.command()
@_job_id
@click.option("--wait", is_flag=True, help="Follow the job to its end and import its results.")
def resume(job_id, wait) -> None:
    """Rerun the unfinished shards of JOB_ID (finished shards are kept)."""
    from offbatch.launcher import resume as do_resume

    settings, db = context.settings(), context.database()
    job = do_resume(settings, db, job_id)
    click.echo(f"resumed {job_id}")
    if wait:
        _wait_and_import(job_id, rows=job.rows_selected)


@click.command("run-task")
def run_task() -> None:
    """Run one task from the worker environment (BATCH_TASK_INDEX, OFFBATCH_*)."""
    from offbatch.worker import main as worker_main

    raise SystemExit(worker_main())


@click.command()
@click.argument("job_type")
@click.option("--backend", help="Execution backend (default: OFFBATCH_BACKEND or 'local').")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Job config YAML to use instead of the job type's.")
@click.option("--dataset", help="OFF Parquet dump; default: the bundled sample.")
@click.option("--rows", default=3, show_default=True, help="Products the one task processes.")
@click.option("--timeout", "timeout_s", default=3600, show_default=True, help="Seconds to wait before cancelling it.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask to confirm a smoke job that costs money.")
def smoke(job_type, backend, config_path, dataset, rows, timeout_s, yes) -> None:
    """Submit a one-task, few-row JOB_TYPE job with the real config and image; report each check.

    Steps: the image's lock, nvidia-smi, the driver against torch's CUDA, the model files,
    torch.cuda, the model load and one generation. Exit 0 when every step passed, 1 otherwise.
    """
    from offbatch import smoke as smoke_job
    from offbatch import storage
    from offbatch.backends import get_backend
    from offbatch.config import load_config
    from offbatch.jobs import get_job_type

    settings = context.settings()
    backend_name = backend or settings.backend
    backend_obj = get_backend(backend_name, settings)
    path = config_path or get_job_type(job_type).config_path(backend_name)
    if path.exists():
        cost = smoke_job.smoke_config(load_config(path)).cost_estimate()
        if cost.worst_case_usd > 0 and not yes:
            click.echo(f"a smoke job on {backend_name} costs at most ${cost.worst_case_usd:.2f}", err=True)
            if not sys.stdin.isatty():
                raise ConfigError("this smoke job costs money and stdin is not a terminal", hint="pass --yes to confirm")
            if not click.confirm("Submit it?", default=False, err=True):
                click.echo("not submitted", err=True)
                return
    run = smoke_job.submit(settings, job_type_name=job_type, backend_name=backend_name, config_path=config_path,
                           dataset=dataset, rows=rows, backend=backend_obj)
    image = run.config.container_image_uri or "this checkout (local)"
    click.echo(f"smoke job {run.job_id} on {run.backend}: image {image}, engine {run.config.engine}, {rows} rows")
    result = smoke_job.follow(run, backend_obj, timeout_s=timeout_s,
                              on_state=lambda state: click.echo(f"  job {state.value}", err=True))
    for line in smoke_job.report_lines(result):
        click.echo(line)
    if result.ok:
        storage.remove(run.folder.url, recursive=True)
    else:
        click.echo("last lines of the task's log:", err=True)
        for line in result.log_tail:
            click.echo(f"  {line}", err=True)
        click.echo(f"its input is kept for inspection: {run.folder.url}", err=True)
        raise SystemExit(1)
