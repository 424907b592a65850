"""Import throughput: predictions/s importing N output rows, next to a bare bulk insert.

    PYTHONPATH=src python bench/import.py [--rows 100000] [--postgres URL]

For each database (SQLite always; PostgreSQL when --postgres or OFFBATCH_TEST_DATABASE_URL is
set) it builds a fresh schema, writes N output rows as 4 real Parquet parts (a quarter of them
actionable corrections), then measures in the same run:
- ``import``: ``run_import`` end to end (read parts, map rows, write predictions, derive insights,
  record progress per 5,000-row chunk);
- ``bare insert``: the same N prediction rows written straight into the same table, the fastest
  way that database offers (SQLite executemany; PostgreSQL COPY), one transaction per 5,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from offbatch.db.models import Job, Prediction
from offbatch.db.session import Database
from offbatch.imports import run_import
from offbatch.jobs import get_job_type
from offbatch.settings import Settings
from offbatch.storage import JobFolder

CHUNK = 5_000
TEXT = "sucre, farine de blé, huile de tournesol, lait écrémé en poudre, sel, levure"


def output_rows(n: int) -> list[dict]:
    return [
        {"code": f"{i:013d}", "lang": "fr", "original": TEXT,
         "correction": TEXT.replace("sucre", "sucré") if i % 4 == 0 else TEXT,
         "truncated": False, "engine": "cpu", "engine_version": "1"}
        for i in range(n)
    ]


def make_job(db: Database, root: str, job_id: str, rows: list[dict], parts: int) -> Job:
    job_type = get_job_type("ingredients-spellcheck")
    folder = JobFolder(root, job_type.name, job_id)
    size = -(-len(rows) // parts)
    for i in range(parts):
        path = Path(folder.output_part(i).removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows[i * size:(i + 1) * size], schema=job_type.output_schema), path)
    job = Job(id=job_id, job_type=job_type.name, backend="local", backend_ref=job_id, state="SUCCEEDED",
              storage_url=folder.url, task_count=parts, rows_selected=len(rows), engine="cpu",
              config={"location": "local", "machine_type": "local"})
    with db.session() as s:
        s.add(job)
    return job


def bare_insert(db: Database, job_id: str, rows: list[dict]) -> float:
    now = datetime.now(UTC)
    preds = [{"job_id": job_id, "barcode": r["code"], "type": "ingredient_spellcheck", "value_tag": r["lang"],
              "data": {"original": r["original"], "correction": r["correction"], "lang": r["lang"], "truncated": False},
              "predictor": r["engine"], "predictor_version": r["engine_version"], "created_at": now} for r in rows]
    cols = ("job_id", "barcode", "type", "value_tag", "data", "predictor", "predictor_version", "created_at")
    started = time.perf_counter()
    for k in range(0, len(preds), CHUNK):
        chunk = preds[k:k + CHUNK]
        with db.engine.begin() as conn:
            if db.is_sqlite:
                conn.execute(insert(Prediction), chunk)
            else:
                with conn.connection.driver_connection.cursor() as cur, cur.copy(
                    f"COPY predictions ({', '.join(cols)}) FROM STDIN"
                ) as copy:
                    for p in chunk:
                        copy.write_row(tuple(json.dumps(p[c]) if c == "data" else p[c] for c in cols))
    return time.perf_counter() - started


def measure(name: str, url: str, rows: list[dict], tmp: Path) -> None:
    db = Database(url, auto_migrate=True)
    settings = Settings(home=tmp / "home", database_url=url, storage_url=(tmp / "storage").as_uri(),
                        batch_job_key="bench-key-0123456789abcdef")
    job = make_job(db, settings.storage_root, f"bench-{uuid.uuid4().hex[:8]}", rows, parts=4)
    started = time.perf_counter()
    run = run_import(settings, db, job.id)
    imported = time.perf_counter() - started
    assert run.predictions_created == len(rows), run.predictions_created
    other = make_job(db, settings.storage_root, f"bare-{uuid.uuid4().hex[:8]}", [], parts=1)
    bare = bare_insert(db, other.id, rows)
    n = len(rows)
    print(f"{name:<10} import: {n / imported:>9,.0f} predictions/s ({imported:.2f} s, "
          f"{run.insights_created:,} insights)   bare insert: {n / bare:>9,.0f} rows/s ({bare:.2f} s)   "
          f"import/bare time ratio: {imported / bare:.2f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("OFFBATCH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    rows = output_rows(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{tmp}/bench.db", rows, Path(tmp) / "sqlite")
        if args.postgres:
            base = make_url(args.postgres).set(drivername="postgresql+psycopg")
            name = f"offbatch_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                measure("postgresql", base.set(database=name).render_as_string(hide_password=False), rows,
                        Path(tmp) / "pg")
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
