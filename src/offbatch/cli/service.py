"""Service commands: import, serve, worker, reconcile, insights, db."""

from __future__ import annotations

import logging
import signal
import threading

import click

from offbatch.cli.context import database, settings


@click.command("import")
@click.argument("job_id")
def import_job(job_id: str) -> None:
    """Import a finished job's results now (idempotent), and print the counts."""
    from offbatch.imports import run_import

    run = run_import(settings(), database(), job_id)
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

    s = settings()
    db = database()
    db.check_schema()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(s, db, background=not no_importer), host=host, port=port)


@click.command()
@click.option("--once", is_flag=True, help="Reconcile, run the queued imports, then exit.")
@click.option("--reconcile-every", default=60.0, show_default=True, type=float, help="Seconds between reconciles.")
def worker(once: bool, reconcile_every: float) -> None:
    """Run queued imports as they come, and reconcile periodically."""
    from offbatch.imports import process_queue, reconcile
    from offbatch.imports.importer import default_worker_id
    from offbatch.imports.loop import import_loop

    s, db = settings(), database()
    db.check_schema()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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


@click.command()
@click.option("--lang", help="Product language (the insight's value tag).")
@click.option("--barcode")
@click.option("--type", "type_", help="Insight type, e.g. ingredient_spellcheck.")
@click.option("--annotated/--open", default=None, help="Only annotated, or only open, insights.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
def insights(lang: str | None, barcode: str | None, type_: str | None, annotated: bool | None, limit: int) -> None:
    """List insights, newest first."""
    from offbatch.review import InsightFilter, list_insights

    total, rows = list_insights(
        database(), InsightFilter(type=type_, value_tag=lang, barcode=barcode, annotated=annotated), limit=limit
    )
    labels = {None: "open", 1: "accepted", 0: "rejected", -1: "skipped"}
    click.echo(f"{'ID':>6}  {'BARCODE':<14} {'LANG':<4} {'ORIGINAL → CORRECTION':<70} ANNOTATION")
    for i in rows:
        change = _change(i.data.get("original") or "", i.data.get("correction") or "")
        click.echo(f"{i.id:>6}  {i.barcode:<14} {i.value_tag or '':<4} {change:<70} {labels.get(i.annotation, i.annotation)}")
    click.echo(f"{len(rows)} of {total} insights")


def _change(original: str, correction: str, *, context: int = 12) -> str:
    """The changed span of a correction with a little context: '…soy lecthin. → …soy lecithin.'."""
    start = 0
    while start < min(len(original), len(correction)) and original[start] == correction[start]:
        start += 1
    end = 0
    while (end < min(len(original), len(correction)) - start
           and original[-1 - end] == correction[-1 - end]):
        end += 1
    left = max(0, start - context)

    def span(text: str) -> str:
        stop = min(len(text), len(text) - end + context)
        piece = text[left:stop].replace("\n", " ")
        if len(piece) > 60:  # several changes far apart: keep both ends
            piece = piece[:28] + " … " + piece[-28:]
        return ("…" if left else "") + piece + ("…" if stop < len(text) else "")

    return f"{span(original)} → {span(correction)}"


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
