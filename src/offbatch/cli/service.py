"""Service commands: import, serve, worker, reconcile, db."""

from __future__ import annotations

import errno
import signal
import socket
import threading

import click

from offbatch.cli.completion import complete_job_ids
from offbatch.cli.context import database, settings
from offbatch.cli.render import echo_json, iso, note
from offbatch.errors import ConfigError, SetupError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.command("import")
@click.argument("job_id", shell_complete=complete_job_ids)
@click.option("--json", "as_json", is_flag=True, help="Print the import as JSON on stdout.")
def import_job(job_id: str, as_json: bool) -> None:
    """Import a finished job's results now (idempotent), and print the counts."""
    from offbatch import tracking
    from offbatch.imports import ImportState, run_import
    from offbatch.imports.queue import run_for_job

    s, db = settings(), database()
    job = tracking.get_job(db, job_id)
    earlier = run_for_job(db, job_id)
    already = earlier is not None and earlier.state == ImportState.SUCCEEDED
    if not already and tracking.needs_refresh(job):
        # The row may lag behind the backend: a job cancelled since must get the resume hint,
        # not "wait for the job to finish".
        tracking.refresh(s, db, job_id)
    run = run_import(s, db, job_id)
    counts = {
        "id": run.id, "job_id": run.job_id, "state": run.state, "already_imported": already,
        "rows_done": run.rows_done, "parts_done": run.parts_done, "predictions_created": run.predictions_created,
        "insights_created": run.insights_created, "insights_updated": run.insights_updated,
        "rows_skipped": run.rows_skipped, "finished_at": iso(run.finished_at),
    }
    if as_json:
        echo_json(counts)
        return
    if already:
        # Not new counts: what that earlier import did, said as such.
        note(f"{job_id} was already imported at {iso(run.finished_at)} (import {run.id}); nothing new to import")
        click.echo(f"that import: {run.predictions_created} predictions, {run.insights_created} insights created, "
                   f"{run.insights_updated} updated")
        return
    click.echo(
        f"import {run.id} of {run.job_id}: {run.state}; {run.rows_done} rows from {run.parts_done} parts, "
        f"{run.predictions_created} predictions, {run.insights_created} insights created, "
        f"{run.insights_updated} updated, {run.rows_skipped} rows skipped"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-importer", is_flag=True, help="Do not run queued imports in this process.")
def serve(host: str, port: int, no_importer: bool) -> None:
    """Run the API server; it imports queued jobs in a background thread."""
    import uvicorn

    from offbatch.api.app import create_app
    from offbatch.redaction import configure_logging, uvicorn_log_config

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port", hint="use a port from 1 to 65535")
    s = settings()
    db = database()
    db.check_schema()
    sock = _listen(host, port)
    configure_logging(fmt=LOG_FORMAT)
    # Query strings never reach the access log: a client may have put a token there.
    config = uvicorn.Config(create_app(s, db, background=not no_importer), host=host, port=port,
                            log_config=uvicorn_log_config())
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (bound here, not by uvicorn, so a taken port is our error)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        hint = ("choose another --port, or stop what listens there" if e.errno == errno.EADDRINUSE
                else "is --host an address of this machine?")
        raise SetupError(f"cannot listen on {host}:{port}: {e.strerror or e}", hint=hint) from None
    return sock


@click.command()
@click.option("--once", is_flag=True, help="Reconcile, run the queued imports, then exit.")
@click.option("--reconcile-every", default=60.0, show_default=True, type=float, help="Seconds between reconciles.")
def worker(once: bool, reconcile_every: float) -> None:
    """Run queued imports as they come, and reconcile periodically."""
    from offbatch.imports import process_queue, reconcile
    from offbatch.imports.importer import default_worker_id
    from offbatch.imports.loop import import_loop
    from offbatch.redaction import configure_logging

    s, db = settings(), database()
    db.check_schema()
    configure_logging(fmt=LOG_FORMAT)
    if once:
        report = reconcile(s, db)
        done = process_queue(s, db, worker_id=default_worker_id(), once=True)
        click.echo(f"reconciled {len(report.refreshed)} jobs; ran {done} imports")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    import_loop(s, db, stop=stop, reconcile_every=reconcile_every)


@click.command()
def reconcile() -> None:
    """Refresh unfinished jobs, then import succeeded jobs whose webhook never came."""
    from offbatch.imports import process_queue
    from offbatch.imports import reconcile as run_reconcile
    from offbatch.imports.importer import default_worker_id

    s, db = settings(), database()
    report = run_reconcile(s, db)
    done = process_queue(s, db, worker_id=default_worker_id(), once=True)
    click.echo(f"refreshed {len(report.refreshed)} jobs; queued {len(report.queued)} imports; ran {done}; "
               f"marked {len(report.failed)} imports failed")
    for job_id, error in report.errors.items():
        click.echo(f"  {job_id}: {error}", err=True)


@click.group()
def db() -> None:
    """Database commands."""


@db.command()
def upgrade() -> None:
    """Migrate the database schema to the latest revision (Alembic)."""
    from offbatch.db.session import Database

    # Not context.database(): that one migrates an embedded SQLite file as it opens it.
    database_ = Database(settings().db_url, auto_migrate=False)
    before = database_.current_revision()
    database_.upgrade()
    click.echo(f"database at revision {database_.current_revision()} (was {before or 'empty'})")
