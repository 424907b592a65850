"""Job commands: launch, status, list, logs, cancel, resume, and the task entry point."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from offbatch.cli import context
from offbatch.errors import ConfigError

POLL_SECONDS = 1.0


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
@click.argument("job_type")
@click.option("--backend", help="Execution backend (default: OFFBATCH_BACKEND or 'local').")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Job config YAML to use instead of the job type's.")
@click.option("--dataset", help="OFF Parquet dump (path, glob or gs:// URL); default: the bundled sample.")
@click.option("--limit", type=int, help="Most products to select (default 10,000).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Extraction parameter, e.g. max_fraction=0.3.")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan (job id, rows, resources, request); submit nothing.")
@click.option("--include-predicted", is_flag=True,
              help="Also process products that already have a prediction from this engine version.")
@click.option("--wait", is_flag=True, help="Follow the job to its end and import its results.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask to confirm a job that costs money.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def launch(job_type, backend, config_path, dataset, limit, params, dry_run, include_predicted, wait, yes, as_json) -> None:
    """Extract JOB_TYPE's products, validate its config and submit a job."""
    from offbatch.launcher import launch as do_launch

    settings, db = context.settings(), context.database()

    def confirm(plan) -> bool:
        cost = plan.estimate
        click.echo(f"{plan.rows} products selected; estimated cost ${cost.expected_usd:.2f} "
                   f"(worst case ${cost.worst_case_usd:.2f}, budget ${plan.config.budget_usd:.2f})", err=True)
        if yes or cost.worst_case_usd == 0:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("this job costs money and stdin is not a terminal", hint="pass --yes to confirm")
        return click.confirm("Submit the job?", default=False, err=True)

    plan = do_launch(
        settings, db, job_type_name=job_type, backend_name=backend, config_path=config_path, dataset=dataset,
        limit=limit, params=_parse_params(params), dry_run=dry_run, include_predicted=include_predicted,
        confirm=confirm,
    )
    if dry_run or as_json:
        click.echo(json.dumps(plan.as_dict(), indent=2, default=str))
    if dry_run:
        return
    if not plan.submitted:
        click.echo("not submitted", err=True)
        return
    click.echo(f"submitted {plan.job_id} to {plan.backend}: {plan.rows} products in {plan.config.task_count} task(s)")
    click.echo(f"follow it with: offbatch status {plan.job_id}")
    if wait:
        _wait_and_import(plan.job_id, rows=plan.rows)


def _wait_and_import(job_id: str, *, rows: int) -> None:
    from offbatch import tracking
    from offbatch.progress import rows_done

    settings, db = context.settings(), context.database()
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    started = time.monotonic()
    # A progress bar on a terminal; in a log (CI, cron), one line each time something changes.
    bar = click.progressbar(length=rows, label=job_id, show_pos=True, file=sys.stderr) if sys.stderr.isatty() else None
    shown, last_line = 0, ""
    try:
        while True:
            job, status = tracking.refresh(settings, db, job_id, backend=backend)
            done = rows_done(job)
            if bar is not None:
                bar.update(done - shown)
            else:
                line = f"{status.state.value}: {done}/{rows} rows, tasks {status.task_counts()}"
                if line != last_line:
                    click.echo(line, err=True)
                    last_line = line
            shown = done
            if status.state.is_finished():
                break
            time.sleep(POLL_SECONDS)
    finally:
        if bar is not None:
            bar.render_finish()
    elapsed = time.monotonic() - started
    click.echo(f"{job_id}: {status.state.value} after {elapsed:.1f}s" + (f" ({status.reason})" if status.reason else ""))
    if status.state.value != "SUCCEEDED":
        raise SystemExit(1)
    from offbatch.imports import run_import

    run = run_import(settings, db, job_id)
    click.echo(
        f"imported: {run.predictions_created} predictions, {run.insights_created} insights created, "
        f"{run.insights_updated} updated"
    )
    click.echo("review them with: offbatch insights")


def _import_summary(db, job_id: str) -> dict | None:
    from sqlalchemy import select

    from offbatch.db.models import ImportRun

    with db.session() as s:
        run = s.scalars(select(ImportRun).where(ImportRun.job_id == job_id)).first()
        if run is None:
            return None
        return {
            "id": run.id, "state": run.state, "predictions_created": run.predictions_created,
            "insights_created": run.insights_created, "insights_updated": run.insights_updated,
            "rows_done": run.rows_done, "error": run.error,
        }


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def status(job_id, as_json) -> None:
    """Show JOB_ID's state, tasks, cost and import."""
    from offbatch import tracking
    from offbatch.cli.render import job_lines

    settings, db = context.settings(), context.database()
    job, st = tracking.refresh(settings, db, job_id)
    imported = _import_summary(db, job_id)
    if as_json:
        click.echo(json.dumps({
            "job_id": job.id, "state": job.state, "reason": job.reason, "backend": job.backend,
            "rows_selected": job.rows_selected, "task_count": job.task_count,
            "cost_estimate_usd": job.cost_estimate_usd, "cost_actual_usd": job.cost_actual_usd,
            "tasks": [{"index": t.index, "state": t.state.value, "attempts": t.attempts, "exit_code": t.exit_code,
                       "run_seconds": round(t.run_seconds, 3), "reason": t.reason} for t in st.tasks],
            "import": imported,
        }, indent=2, default=str))
        return
    click.echo("\n".join(job_lines(job, st, imported)))


@click.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--job-type")
@click.option("--json", "as_json", is_flag=True)
def list_jobs(limit, job_type, as_json) -> None:
    """List recent jobs (state refreshed for unfinished ones)."""
    from offbatch import tracking
    from offbatch.backends import JobState
    from offbatch.cli.render import money, table, when

    settings, db = context.settings(), context.database()
    backends: dict = {}
    jobs = []
    for job in tracking.list_jobs(db, limit=limit, job_type=job_type):
        if not JobState(job.state).is_finished() and job.backend_ref:
            job, _ = tracking.refresh(settings, db, job.id, backend=tracking.backend_for(settings, job, backends))
        jobs.append(job)
    if as_json:
        click.echo(json.dumps([{"job_id": j.id, "job_type": j.job_type, "backend": j.backend, "state": j.state,
                                "rows_selected": j.rows_selected, "created_at": j.created_at,
                                "cost_actual_usd": j.cost_actual_usd} for j in jobs], indent=2, default=str))
        return
    if not jobs:
        click.echo("no jobs yet: try offbatch launch ingredients-spellcheck --wait")
        return
    rows = [[j.id, j.backend, j.state, str(j.rows_selected), str(j.task_count), when(j.created_at),
             money(j.cost_actual_usd)] for j in jobs]
    click.echo(table(rows, ["job", "backend", "state", "rows", "tasks", "created", "cost"]))


@click.command()
@click.argument("job_id")
@click.option("--task", type=int, help="Only this task's log.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
def logs(job_id, task, follow) -> None:
    """Print JOB_ID's task logs."""
    from offbatch import tracking

    settings, db = context.settings(), context.database()
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    for line in backend.logs(job.backend_ref or job.id, task=task, follow=follow):
        click.echo(line)


@click.command()
@click.argument("job_id")
def cancel(job_id) -> None:
    """Cancel JOB_ID; cancelling a finished job does nothing."""
    from offbatch import tracking

    settings, db = context.settings(), context.database()
    job = tracking.get_job(db, job_id)
    backend = tracking.backend_for(settings, job)
    backend.cancel(job.backend_ref or job.id)
    job, st = tracking.refresh(settings, db, job_id, backend=backend)
    click.echo(f"{job_id}: {st.state.value}")


@click.command()
@click.argument("job_id")
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
