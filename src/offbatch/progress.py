"""How far a job has got, read from its storage folder (the same for every backend).

A finished shard has its output part; an unfinished one has finished chunks under
``output/_chunks-part-i/``. Shard *i* of *n* holds rows ``i, i+n, ...`` of the selection.
"""

from __future__ import annotations

from offbatch import storage
from offbatch.db.models import Job


def shard_rows(rows: int, task_count: int, index: int) -> int:
    return len(range(index, rows, task_count))


def rows_done(job: Job) -> int:
    output_url = f"{job.storage_url}/output"
    chunk_size = int(job.config.get("chunk_size", 256))
    finished = {p.rsplit("/", 1)[-1] for p in storage.list_parts(output_url)}
    done = 0
    for index in range(job.task_count):
        total = shard_rows(job.rows_selected, job.task_count, index)
        if storage.PART_TEMPLATE.format(index=index) in finished:
            done += total
            continue
        chunks = storage.list_parquet(storage.chunks_url(output_url, index), prefix="chunk-")
        done += min(len(chunks) * chunk_size, total)
    return done
