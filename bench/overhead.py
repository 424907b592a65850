"""Orchestration overhead of the sample job: launch -> SUCCEEDED, minus the engine's own time.

    PYTHONPATH=src python bench/overhead.py            # 3 rounds on the bundled sample (539 products)

Each round is ``offbatch launch ingredients-spellcheck`` on the embedded default, in process:
``launcher.launch`` (extraction, job row, job.json, ``LocalBackend.submit``) with the shipped local
config (2 tasks, parallelism 2), then polling ``status`` every 20 ms until the job ends. Engine
time is what the tasks report (``engine_seconds`` in their logs: vocabulary loading plus
corrections, chunk by chunk); the tasks run side by side, so the job's engine time is the
slowest task's. Overhead = wall - that. The floor, measured in the same run, is the engine alone in
this process on the same 539 rows (fresh engine, so vocabularies load as in a task). Target:
overhead <= 2 s.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from offbatch.backends import get_backend
from offbatch.config import load_config
from offbatch.db.session import Database
from offbatch.engines import load_engine
from offbatch.jobs import get_job_type
from offbatch.launcher import launch
from offbatch.settings import load_settings

TARGET_SECONDS = 2.0
JOB_TYPE = "ingredients-spellcheck"
POLL_SECONDS = 0.02


def engine_seconds_from_logs(lines: list[str]) -> list[float]:
    """``engine_seconds`` of each task, from the worker's ``done: {...}`` log line."""
    out = []
    for line in lines:
        if "done: {" in line:
            out.append(float(ast.literal_eval(line[line.index("{"):])["engine_seconds"]))
    return out


def one_round(home: Path) -> dict[str, float]:
    settings = load_settings(home=home)
    db = Database(settings.db_url)  # migrated here, before the clock starts: a one-time cost
    backend = get_backend("local", settings)
    started = time.perf_counter()
    plan = launch(settings, db, job_type_name=JOB_TYPE)
    launched = time.perf_counter()
    while not (status := backend.status(plan.job_id)).state.is_finished():
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - started
    if status.state.value != "SUCCEEDED":
        raise SystemExit(f"error: job {plan.job_id} ended {status.state.value}: {status.reason}")
    engine = engine_seconds_from_logs(list(backend.logs(plan.job_id)))
    if len(engine) != len(status.tasks):
        raise SystemExit(f"error: found engine times for {len(engine)} of {len(status.tasks)} tasks")
    db.dispose()
    return {
        "job_id": plan.job_id,
        "rows": plan.rows,
        "wall": wall,
        "launch_call": launched - started,
        "task_seconds": max(t.run_seconds for t in status.tasks),
        "engine": max(engine),
        "storage_url": plan.storage_url,
    }


def engine_floor(storage_url: str, tasks: int, chunk_size: int) -> float:
    """The engine alone, fresh, on the job's input parts in the worker's batches (all rows)."""
    job_type = get_job_type(JOB_TYPE)
    engine = load_engine("cpu")
    started = time.perf_counter()
    for index in range(tasks):
        path = f"{storage_url}/input/part-{index:05d}.parquet".removeprefix("file://")
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
            job_type.process(batch.cast(job_type.input_schema), engine)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="offbatch-bench-home-") as tmp:
        home = Path(tmp)
        rounds = [one_round(home) for _ in range(args.rounds)]
        shipped = load_config(get_job_type(JOB_TYPE).config_path("local"))
        floor = engine_floor(rounds[-1]["storage_url"], shipped.task_count, shipped.chunk_size)
    print(f"sample job: {rounds[0]['rows']} products, {shipped.task_count} tasks, parallelism {shipped.parallelism}, "
          f"{args.rounds} rounds")
    for key, label in (("wall", "launch -> SUCCEEDED"), ("launch_call", "launch() call (extract, record, submit)"),
                       ("task_seconds", "slowest task process"), ("engine", "engine time in slowest task (logs)")):
        values = [r[key] for r in rounds]
        print(f"{label}: median {statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})")
    overhead = statistics.median(r["wall"] - r["engine"] for r in rounds)
    wall = statistics.median(r["wall"] for r in rounds)
    print(f"floor: engine alone in process on all {rounds[0]['rows']} rows (cold vocabularies): {floor:.2f} s; "
          f"ratio wall/floor {wall / floor:.2f}x")
    print(f"overhead (wall - task engine time): median {overhead:.2f} s; "
          f"target <= {TARGET_SECONDS} s: {'met' if overhead <= TARGET_SECONDS else 'NOT met'}")
    print(f"overhead (wall - in-process engine floor): {wall - floor:.2f} s")


if __name__ == "__main__":
    main()
