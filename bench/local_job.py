"""A spellcheck job over an N-product OFF dump on the local backend: wall time, rows/s, peak RSS.

    PYTHONPATH=src python bench/local_job.py                  # 1,000,000 products, 8 tasks, parallelism 2
    PYTHONPATH=src python bench/local_job.py --rows 100000    # quick check

The job is what ``offbatch launch`` does, minus the database row: extraction of every matching
product (``limit`` = dump size) into ``--tasks`` shards, then ``LocalBackend.submit`` with a
temporary config (``location: local``, ``machine_type: local``, the shipped chunk size) and the
CPU engine, polled until it ends. Tasks run the real worker through bench/rss_task.py, which
records each task's exact peak RSS; the supervisor's is its ``/proc/<pid>/status`` VmHWM, sampled
while it runs; extraction's is this process's own VmHWM.

Parallelism defaults to 2 because the machine this was written for has 2 cores and a task is one
single-threaded Python process: more tasks at once would only time-slice them.

Floor, measured in the same run after the job: the engine alone, in this process, on shard 0
(the same batches the worker processes), scaled to all shards run ``parallelism`` at a time,
plus the extraction time. Target: every process <= 1 GiB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from measure import ensure_dump, vm_hwm_mib

from offbatch.backends.local.backend import LocalBackend
from offbatch.backends.local.state import JobDir
from offbatch.config import load_config
from offbatch.engines import load_engine
from offbatch.extract import extract
from offbatch.jobs import get_job_type
from offbatch.launcher import job_spec
from offbatch.settings import load_settings
from offbatch.storage import JobFolder

RSS_TARGET_MIB = 1024
JOB_TYPE = "ingredients-spellcheck"
CONFIG = """\
location: local
machine_type: local
cpu_milli: 1000
memory_mib: 1024
max_retry_count: 0
max_run_duration: 2h
task_count: {tasks}
parallelism: {parallelism}
budget_usd: 1
engine: cpu
chunk_size: {chunk_size}
"""


def engine_floor(part_url: str, *, chunk_size: int) -> tuple[float, int]:
    """Seconds for a fresh engine to process one input part in the worker's batches, and its rows."""
    job_type = get_job_type(JOB_TYPE)
    engine = load_engine("cpu")
    started = time.perf_counter()
    rows = 0
    for batch in pq.ParquetFile(part_url.removeprefix("file://")).iter_batches(batch_size=chunk_size):
        rows += job_type.process(batch.cast(job_type.input_schema), engine).num_rows
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="products in the dump")
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=256, help="rows per chunk (the shipped config's)")
    parser.add_argument("--dump", type=Path, help="an existing dump (default: generate one in the temp dir)")
    args = parser.parse_args()

    dump = ensure_dump(args.rows, args.dump)
    home = Path(tempfile.mkdtemp(prefix="offbatch-bench-home-"))
    rss_dir = home / "rss"
    rss_dir.mkdir()
    os.environ["OFFBATCH_HOME"] = str(home)  # the supervisor and tasks inherit this environment
    os.environ["BENCH_RSS_DIR"] = str(rss_dir)
    settings = load_settings(home=home)
    config_path = home / "job.yaml"
    config_path.write_text(CONFIG.format(tasks=args.tasks, parallelism=args.parallelism, chunk_size=args.chunk_size))
    config = load_config(config_path)
    job_type = get_job_type(JOB_TYPE)
    job_id = f"bench-{int(time.time())}"
    folder = JobFolder(settings.storage_root, job_type.name, job_id)
    print(f"dump {dump}; {args.tasks} tasks, parallelism {args.parallelism}, chunk size {args.chunk_size}; home {home}")

    started = time.perf_counter()
    extraction = extract(dataset=dump, job_type=job_type, params=job_type.Params(limit=args.rows), folder=folder,
                         task_count=config.task_count)
    extract_rss = vm_hwm_mib()
    spec = job_spec(settings, config=config, job_type=job_type, folder=folder, backend_name="local")
    backend = LocalBackend(settings, task_command=[sys.executable, str(Path(__file__).with_name("rss_task.py"))])
    submitted = time.perf_counter()
    backend.submit(spec)
    job_dir = JobDir(backend.root, job_id)
    supervisor_rss = 0.0
    while not (status := backend.status(job_id)).state.is_finished():
        pid = job_dir.read().supervisor_pid
        if pid and (hwm := vm_hwm_mib(pid)) is not None:
            supervisor_rss = max(supervisor_rss, hwm)
        time.sleep(0.2)
    finished = time.perf_counter()
    if status.state.value != "SUCCEEDED":
        sys.exit(f"error: job {job_id} ended {status.state.value}: {status.reason} (logs in {job_dir.path})")

    tasks = sorted((json.loads(p.read_text()) for p in rss_dir.glob("task-*.json")), key=lambda t: int(t["index"]))
    output_rows = sum(pq.ParquetFile(folder.output_part(i).removeprefix("file://")).metadata.num_rows
                      for i in range(args.tasks))
    if output_rows != extraction.rows:
        sys.exit(f"error: {output_rows} output rows for {extraction.rows} selected")
    wall = finished - started
    print(f"selected {extraction.rows:,} of {args.rows:,} products; extraction {extraction.seconds:.1f} s")
    print(f"tasks: submit -> SUCCEEDED {finished - submitted:.1f} s; "
          f"task run times {', '.join(f'{t.run_seconds:.0f}' for t in status.tasks)} s")
    print(f"wall (extraction + job): {wall:.1f} s = {extraction.rows / wall:,.0f} rows/s")

    floor_seconds, floor_rows = engine_floor(folder.input_part(0), chunk_size=args.chunk_size)
    waves = -(-args.tasks // args.parallelism)
    floor = extraction.seconds + floor_seconds * waves
    print(f"floor: engine alone on shard 0 ({floor_rows:,} rows) {floor_seconds:.1f} s x {waves} waves "
          f"+ extraction = {floor:.1f} s; ratio {wall / floor:.2f}x")

    peaks = [("extraction (launching process)", extract_rss), ("supervisor (sampled VmHWM)", supervisor_rss)]
    peaks += [(f"task {t['index']} (pid {t['pid']})", t["peak_rss_mib"]) for t in tasks]
    for name, mib in peaks:
        print(f"peak RSS {name}: {mib:,.0f} MiB")
    worst = max(mib for _, mib in peaks)
    print(f"max peak RSS {worst:,.0f} MiB; target <= {RSS_TARGET_MIB} MiB each: "
          f"{'met' if worst <= RSS_TARGET_MIB else 'NOT met'}")
    shutil.rmtree(home)  # kept above on failure, for its logs


if __name__ == "__main__":
    main()
