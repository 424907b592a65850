"""Extraction of an N-row OFF dump into 8 input shards, against a bare DuckDB COPY of the same query.

    PYTHONPATH=src python bench/extraction.py                   # 100k and 1M rows, shapes sample, unique, sorted
    PYTHONPATH=src python bench/extraction.py --rows 100000 --shapes unique   # quicker

Measured: ``offbatch.extract.extract`` (the ingredients-spellcheck query into an in-memory table,
then ``--tasks`` Parquet shards, each written by a DuckDB ``COPY``, several at once, and renamed
into a ``file://`` folder), with ``limit`` = the dump's row count so nothing is cut. Floor: ``COPY (<the same query,
same parameters>) TO 'x.parquet'`` on a fresh DuckDB connection. Each measurement runs in its own
process (so its peak RSS is its own), the two alternate (and take turns going first), and a first
unmeasured COPY warms the page cache. Wall-clock medians are judged; CPU seconds (all threads) are
printed beside them because they hardly move with the machine's load. The dump is
generated with make_dump.py if missing (``--dump`` reuses one), in each ``--shapes`` (make_dump.py:
``sample`` repeats the sample's texts, ``unique`` makes every text unique with heavy-tailed
popularity, ``sorted`` is ``unique`` pre-sorted by popularity) at each ``--rows``, so the target is
not met on one shape of data only. Target: median ratio <= 1.2x on every dump.

``--phases`` (not judged) times each statement of both sides in one warm process instead, the
minimum over ``--rounds`` of wall and CPU seconds per phase: where the extraction's fixed costs go.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import ensure_dump, vm_hwm_mib

TARGET_RATIO = 1.2
JOB_TYPE = "ingredients-spellcheck"


def measure(kind: str, *, dump: str, out: Path, rows: int, tasks: int) -> dict[str, float]:
    """One measurement in this process: seconds of the work (imports excluded), its CPU seconds
    (every thread's), rows, peak RSS."""
    import duckdb

    from offbatch.extract import extract, open_dataset
    from offbatch.jobs import get_job_type
    from offbatch.storage import JobFolder

    job_type = get_job_type(JOB_TYPE)
    params = job_type.Params(limit=rows)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    if kind == "offbatch":
        folder = JobFolder(out.as_uri(), job_type.name, "bench")
        selected = extract(dataset=dump, job_type=job_type, params=params, folder=folder, task_count=tasks).rows
    else:
        con = duckdb.connect()
        open_dataset(con, dump, job_type.dataset_columns)
        sql, args = job_type.extraction_query(params)
        ((selected,),) = con.execute(f"COPY ({sql}) TO ? (FORMAT parquet)", [*args, str(out / "x.parquet")]).fetchall()
        con.close()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    peak = vm_hwm_mib()
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": selected, "peak_rss_mib": peak}


def phases(dump: str, *, rows: int, tasks: int, rounds: int) -> None:
    """Print each phase's minimum wall-clock and CPU milliseconds over ``rounds``, the two sides
    alternating in this process (warm: the first round is dropped)."""
    import duckdb

    from offbatch.extract import connect, open_dataset, select, write_shards
    from offbatch.jobs import get_job_type
    from offbatch.storage import JobFolder

    job_type = get_job_type(JOB_TYPE)
    params = job_type.Params(limit=rows)
    sql, args = job_type.extraction_query(params)
    times: dict[str, list[tuple[float, float]]] = {}

    def timed(label: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        result = work(*args, **kwargs)
        times.setdefault(label, []).append((time.perf_counter() - started, _cpu_seconds() - cpu_started))
        return result

    for _ in range(rounds + 1):
        with tempfile.TemporaryDirectory(prefix="offbatch-extract-") as out:
            con = timed("floor: connect", duckdb.connect)
            timed("floor: open the dump", open_dataset, con, dump, job_type.dataset_columns)
            timed("floor: COPY the query to one file", con.execute, f"COPY ({sql}) TO ? (FORMAT parquet)",
                  [*args, f"{out}/x.parquet"])
            timed("floor: close", con.close)
            folder = JobFolder(Path(out).as_uri(), job_type.name, "bench")
            con = timed("offbatch: connect", connect)
            timed("offbatch: select (open, table, count)", select, con, dataset=dump, job_type=job_type,
                  params=params)
            timed(f"offbatch: write {tasks} parts", write_shards, con, job_type=job_type, folder=folder,
                  task_count=tasks)
            timed("offbatch: close", con.close)
    for label, runs in times.items():
        runs = runs[1:]
        print(f"  {label:40s} wall {min(r[0] for r in runs) * 1000:6.1f} ms  CPU {min(r[1] for r in runs) * 1000:6.1f} ms")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(kind: str, *, dump: str, rows: int, tasks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="offbatch-extract-") as out:
        result = subprocess.run(
            [sys.executable, __file__, "--measure", kind, "--dump", dump, "--rows", str(rows),
             "--tasks", str(tasks), "--out", out],
            check=False, capture_output=True, text=True,
        )
    if result.returncode != 0:
        sys.exit(f"error: the {kind} measurement failed:\n{result.stderr}")
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--shapes", nargs="+", default=["sample", "unique", "sorted"])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dump", type=Path, help="an existing dump (default: generate one per shape and size)")
    parser.add_argument("--phases", action="store_true", help="time each phase in one process instead (not judged)")
    parser.add_argument("--measure", choices=["offbatch", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, dump=str(args.dump), out=args.out, rows=args.rows[0],
                                 tasks=args.tasks)))
        return

    if args.phases:
        for shape in args.shapes:
            for rows in args.rows:
                dump = ensure_dump(rows, args.dump, shape)
                print(f"dump {dump} ({shape}, {rows:,} rows); {args.tasks} parts; min of {args.rounds} rounds")
                phases(dump, rows=rows, tasks=args.tasks, rounds=args.rounds)
        return

    verdicts = []
    for shape in args.shapes:
        for rows in args.rows:
            verdicts.append(compare(ensure_dump(rows, args.dump, shape), shape=shape, rows=rows, args=args))
    print(f"extraction <= {TARGET_RATIO}x a bare COPY on every dump: {'met' if all(verdicts) else 'NOT met'}")


def compare(dump: str, *, shape: str, rows: int, args: argparse.Namespace) -> bool:
    print(f"dump {dump} ({shape}, {rows:,} rows); {args.tasks} shards; {args.rounds} rounds")
    run_child("copy", dump=dump, rows=rows, tasks=args.tasks)  # warm the page cache
    results: dict[str, list[dict[str, float]]] = {"copy": [], "offbatch": []}
    for round_ in range(args.rounds):
        # Alternate which goes first, so neither always meets the cache or the load the other left.
        for kind in ("copy", "offbatch") if round_ % 2 == 0 else ("offbatch", "copy"):
            results[kind].append(run_child(kind, dump=dump, rows=rows, tasks=args.tasks))
    for kind, label in (("offbatch", "  offbatch extract"), ("copy", "  floor: DuckDB COPY")):
        runs = results[kind]
        times = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        print(f"{label}: median {statistics.median(r['seconds'] for r in runs):.2f} s ({times}); "
              f"CPU {statistics.median(r['cpu_seconds'] for r in runs):.2f} s; "
              f"{int(runs[0]['rows']):,} rows; peak RSS {max(r['peak_rss_mib'] for r in runs):,.0f} MiB")
    if results["offbatch"][0]["rows"] != results["copy"][0]["rows"]:
        sys.exit("error: offbatch and COPY selected different row counts")
    ratio = statistics.median(r["seconds"] for r in results["offbatch"]) / statistics.median(
        r["seconds"] for r in results["copy"])
    cpu_ratio = statistics.median(r["cpu_seconds"] for r in results["offbatch"]) / statistics.median(
        r["cpu_seconds"] for r in results["copy"])
    met = ratio <= TARGET_RATIO
    # The CPU ratio is shown, not judged: it hardly moves with the machine's load, so it tells
    # whether a wall-clock ratio came from the code or from a noisy neighbour.
    print(f"  ratio {ratio:.2f}x (CPU {cpu_ratio:.2f}x); target <= {TARGET_RATIO}x: {'met' if met else 'NOT met'}")
    return met


if __name__ == "__main__":
    main()
